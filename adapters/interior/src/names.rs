//! Comparing Arabic names as people write them.
//!
//! The same name is typed many ways: with or without diacritics (tashkeel) and
//! tatweel, with any hamza form of alef (أ إ آ ٱ) or a bare alef, with taa marbuta (ة)
//! or haa (ه), alef maqsura (ى) or yaa (ي), hamza on yaa (ئ) or a plain yaa, hamza on
//! waw (ؤ) or a plain waw, Persian keyboard letters (ی ک), and with "عبد الله" in two
//! words or one. [`normalise`] folds all of these to one form, so that "عايشه ابراهيم"
//! matches the registered "عائشة إبراهيم" and a different name still does not.
//!
//! Spaces are dropped entirely rather than collapsed: compound names (عبدالله / عبد
//! الله, عبدالرحمن / عبد الرحمن) are the commonest variation of Saudi names, and no two
//! different names differ only by where a space falls.

/// The name folded for comparison.
pub fn normalise(name: &str) -> String {
    name.chars().filter(|c| !ignored(*c)).map(fold).collect()
}

/// Whether two Arabic names are the same once normalised (and neither is empty).
pub fn same_name(a: &str, b: &str) -> bool {
    let a = normalise(a);
    !a.is_empty() && a == normalise(b)
}

/// Characters that carry no letter: whitespace, tashkeel, Quranic marks, tatweel and
/// the invisible direction and joining marks.
fn ignored(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{0610}'..='\u{061A}' // honorific and Quranic signs
            | '\u{061C}'            // Arabic letter mark
            | '\u{0640}'            // tatweel
            | '\u{064B}'..='\u{065F}' // fathatan … wavy hamza below: tashkeel
            | '\u{0670}'            // superscript alef
            | '\u{06D6}'..='\u{06ED}' // Quranic annotation signs
            | '\u{200B}'..='\u{200F}' // zero-width space, (non-)joiner, LRM, RLM
        )
}

fn fold(c: char) -> char {
    match c {
        // أ إ آ ٱ, and the hamza-above/below alef forms → ا
        '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}' | '\u{0672}' | '\u{0673}' => '\u{0627}',
        // ة → ه
        '\u{0629}' => '\u{0647}',
        // ى ئ ی (Persian yeh) → ي
        '\u{0649}' | '\u{0626}' | '\u{06CC}' => '\u{064A}',
        // ؤ → و
        '\u{0624}' => '\u{0648}',
        // ک (Persian keheh) → ك
        '\u{06A9}' => '\u{0643}',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::world::cases;

    use super::*;

    #[test]
    fn hamza_taa_marbuta_and_yaa_forms_match() {
        let registered = cases::NAME_NORMALISATION_AR.join(" ");
        assert!(same_name(cases::NAME_NORMALISATION_VARIANT_AR, &registered));
        assert!(!same_name(cases::NAME_NORMALISATION_OTHER_AR, &registered));
        assert!(same_name("أحمد", "احمد"));
        assert!(same_name("آمنة", "امنه"));
        assert!(same_name("مصطفى", "مصطفي"));
        assert!(same_name("لؤي", "لوي"));
        assert!(same_name("ٱلرحمن", "الرحمن"));
    }

    #[test]
    fn diacritics_tatweel_and_spaces_are_ignored() {
        assert!(same_name("مُحَمَّد", "محمد"));
        assert!(same_name("محـــمد", "محمد"));
        assert!(same_name("عبد الله", "عبدالله"));
        assert!(same_name("  محمد\t عبدالله  ", "محمد عبدالله"));
        assert!(same_name("\u{200F}محمد", "محمد"));
        assert!(same_name("کریم", "كريم"));
    }

    #[test]
    fn different_names_and_empty_names_do_not_match() {
        assert!(!same_name("محمد", "أحمد"));
        assert!(!same_name("", ""));
        assert!(!same_name("ًٌ", "ٍَ"));
        assert!(!same_name("محمد عبدالله", "محمد عبدالله سعد"));
    }
}
