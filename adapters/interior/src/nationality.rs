//! Names of Yakeen's nationality codes.
//!
//! Yakeen answers a nationality as a code only; integrators keep the table of names.
//! The sandbox's codes are ISO 3166-1 numeric (682 for Saudi Arabia), so this table
//! holds the nationalities most common among the Kingdom's residents by that code. A
//! code missing here leaves the nationality out of the answer (and is logged).

/// `(numeric code, Arabic, English)`.
const TABLE: &[(u16, &str, &str)] = &[
    (4, "أفغاني", "Afghan"),
    (12, "جزائري", "Algerian"),
    (48, "بحريني", "Bahraini"),
    (50, "بنغلاديشي", "Bangladeshi"),
    (104, "ميانماري", "Myanmar"),
    (144, "سريلانكي", "Sri Lankan"),
    (148, "تشادي", "Chadian"),
    (231, "إثيوبي", "Ethiopian"),
    (232, "إريتري", "Eritrean"),
    (275, "فلسطيني", "Palestinian"),
    (356, "هندي", "Indian"),
    (360, "إندونيسي", "Indonesian"),
    (368, "عراقي", "Iraqi"),
    (400, "أردني", "Jordanian"),
    (404, "كيني", "Kenyan"),
    (414, "كويتي", "Kuwaiti"),
    (422, "لبناني", "Lebanese"),
    (504, "مغربي", "Moroccan"),
    (512, "عماني", "Omani"),
    (524, "نيبالي", "Nepalese"),
    (566, "نيجيري", "Nigerian"),
    (586, "باكستاني", "Pakistani"),
    (608, "فلبيني", "Filipino"),
    (634, "قطري", "Qatari"),
    (682, "سعودي", "Saudi"),
    (706, "صومالي", "Somali"),
    (729, "سوداني", "Sudanese"),
    (760, "سوري", "Syrian"),
    (784, "إماراتي", "Emirati"),
    (788, "تونسي", "Tunisian"),
    (792, "تركي", "Turkish"),
    (800, "أوغندي", "Ugandan"),
    (818, "مصري", "Egyptian"),
    (826, "بريطاني", "British"),
    (840, "أمريكي", "American"),
    (887, "يمني", "Yemeni"),
];

/// The Arabic and English names of a nationality code (`"682"`, `"050"` and `"50"`
/// alike), if the table has it.
pub fn name(code: &str) -> Option<(&'static str, &'static str)> {
    let number: u16 = code.trim().parse().ok()?;
    TABLE
        .iter()
        .find(|(n, _, _)| *n == number)
        .map(|&(_, ar, en)| (ar, en))
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::world::World;

    use super::*;

    #[test]
    fn codes_are_read_as_numbers() {
        assert_eq!(name("682"), Some(("سعودي", "Saudi")));
        assert_eq!(name("050"), name("50"));
        assert_eq!(name("999"), None);
        assert_eq!(name("SAU"), None);
    }

    #[test]
    fn every_nationality_of_the_world_has_a_name() {
        let world = World::standard();
        for person in world.people() {
            let (ar, en) = name(&person.nationality.numeric_code).unwrap();
            assert_eq!(
                (ar, en),
                (
                    person.nationality.name.ar.as_str(),
                    person.nationality.name.en.as_str()
                )
            );
        }
    }

    #[test]
    fn the_table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
