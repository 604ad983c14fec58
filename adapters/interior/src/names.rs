//! Comparing Arabic names as people write them.
//!
//! The same name is typed many ways: with or without diacritics (tashkeel) and
//! tatweel, with any hamza form of alef (أ إ آ ٱ) or a bare alef, with taa marbuta (ة)
//! or haa (ه), alef maqsura (ى) or yaa (ي), hamza on yaa (ئ) or a plain yaa, hamza on
//! waw (ؤ) or a plain waw, Persian keyboard letters (ی ک), and with "عبد الله" in two
//! words or one. [`normalise`] folds all of these to one form, so that "عايشه ابراهيم"
//! matches the registered "عائشة إبراهيم" and a different name still does not.
//!
//! Before folding, a name is brought to Unicode's compatibility form (NFKC), so that the
//! Arabic presentation forms and ligatures some keyboards and PDFs produce (ﻣﺤﻤﺪ, ﻻ)
//! read as the letters they are, and every format character (general category Cf:
//! the bidi overrides and isolates U+202A–U+202E and U+2066–U+2069, U+FEFF, the soft
//! hyphen, the zero-width joiners) is dropped: invisible, they are no part of a name,
//! and a name must not fail to match because of one.
//!
//! Spaces are dropped entirely rather than collapsed: compound names (عبدالله / عبد
//! الله, عبدالرحمن / عبد الرحمن) are the commonest variation of Saudi names, and no two
//! different names differ only by where a space falls.

/// The name folded for comparison.
pub fn normalise(name: &str) -> String {
    let compatible = ComposingNormalizerBorrowed::new_nfkc().normalize(name);
    let categories = CodePointMapData::<GeneralCategory>::new();
    compatible
        .chars()
        .filter(|c| categories.get(*c) != GeneralCategory::Format && !ignored(*c))
        .map(fold)
        .collect()
}

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory;

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

    /// Issue 14: the registered name with invisible characters or in presentation
    /// forms gave MISMATCH.
    #[test]
    fn invisible_characters_and_presentation_forms_match() {
        let registered = "محمد عبدالله";
        for sent in [
            "\u{202E}محمد عبدالله",
            "\u{2066}محمد\u{2069} \u{2067}عبدالله\u{2069}",
            "\u{2068}محمد عبدالله\u{2069}",
            "\u{FEFF}محمد عبدالله",
            "مح\u{00AD}مد عبد\u{00AD}الله",
            "محمد\u{200D} عبدالله\u{200C}",
            // Presentation forms B, as some PDFs and old keyboards give them.
            "\u{FEE3}\u{FEA4}\u{FEE4}\u{FEAA} \u{FECB}\u{FE92}\u{FEAA}\u{FE8D}\u{FEDF}\u{FEE0}\u{FEEA}",
        ] {
            assert!(same_name(sent, registered), "{sent:?}");
            assert!(same_name(registered, sent), "{sent:?}");
        }
        // The lam-alef ligature is the two letters it joins.
        assert!(same_name("\u{FEFB}مي", "لامي"));
        // Invisible characters do not make a different name the same.
        assert!(!same_name("\u{202E}أحمد عبدالله", registered));
        assert!(!same_name("\u{FEFF}\u{202E}", "\u{2066}"));
    }

    #[test]
    fn different_names_and_empty_names_do_not_match() {
        assert!(!same_name("محمد", "أحمد"));
        assert!(!same_name("", ""));
        assert!(!same_name("ًٌ", "ٍَ"));
        assert!(!same_name("محمد عبدالله", "محمد عبدالله سعد"));
    }
}
