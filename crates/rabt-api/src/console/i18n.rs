//! The console's two languages: Arabic first, English. The language comes from the
//! remembered switch (a cookie), else `Accept-Language` (Arabic unless English is
//! preferred). Numbers use Arabic-Indic digits in Arabic; times are shown in Riyadh
//! (UTC+3 all year, no daylight saving) with the UTC time on hover, and dates in both
//! the Gregorian and the Hijri (Umm al-Qura) calendars.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use chrono::{DateTime, FixedOffset, Utc};
use maud::{Markup, html};
use rabt_core::HijriDate;

/// The cookie that remembers the language switch.
pub(crate) const LANG_COOKIE: &str = "rabt_lang";

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    /// Arabic (the default).
    Ar,
    /// English.
    En,
}

impl Lang {
    /// The remembered choice, else `Accept-Language`: English only when it is preferred
    /// to Arabic (the console is Arabic-first).
    pub(crate) fn of(headers: &HeaderMap) -> Lang {
        if let Some(chosen) = cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)) {
            return chosen;
        }
        // `*` does not count: it names no language over Arabic.
        match crate::lang::Qualities::of(headers) {
            Some(q) if q.en > q.ar => Lang::En,
            _ => Lang::Ar,
        }
    }

    /// `ar` or `en`.
    pub(crate) fn parse(text: &str) -> Option<Lang> {
        match text {
            "ar" => Some(Lang::Ar),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language tag.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }

    /// The writing direction.
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            Lang::En => "ltr",
        }
    }

    /// The other language.
    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::Ar => Lang::En,
            Lang::En => Lang::Ar,
        }
    }

    /// The text in this language.
    pub(crate) fn t<'a>(self, en: &'a str, ar: &'a str) -> &'a str {
        match self {
            Lang::Ar => ar,
            Lang::En => en,
        }
    }

    /// Digits of this language (Arabic-Indic in Arabic).
    pub(crate) fn digits(self, text: &str) -> String {
        match self {
            Lang::En => text.to_owned(),
            Lang::Ar => text
                .chars()
                .map(|c| match c {
                    '0'..='9' => char::from_u32(0x0660 + (c as u32 - '0' as u32)).unwrap_or(c),
                    '.' => '٫',
                    ',' => '٬',
                    '%' => '٪',
                    other => other,
                })
                .collect(),
        }
    }

    /// A whole number with thousands grouped.
    pub(crate) fn num(self, n: u64) -> String {
        let plain = n.to_string();
        let mut grouped = String::new();
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && (plain.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        self.digits(&grouped)
    }

    /// A share as a percentage with one decimal.
    pub(crate) fn percent(self, share: f64) -> String {
        self.digits(&format!("{:.1}%", share * 100.0))
    }

    /// A time: Riyadh's wall clock and the date in both calendars, with UTC on hover
    /// and in the machine-readable `datetime`.
    pub(crate) fn time(self, at: DateTime<Utc>) -> Markup {
        let riyadh = at.with_timezone(&riyadh());
        let hijri = HijriDate::from_gregorian(riyadh.date_naive())
            .map(|h| format!("{:04}-{:02}-{:02}", h.year(), h.month(), h.day()))
            .ok();
        let shown = format!("{}", riyadh.format("%Y-%m-%d %H:%M:%S"));
        let hijri = hijri.map(|h| format!("{h} {}", self.t("AH", "هـ")));
        let utc = format!("{} UTC", at.format("%Y-%m-%d %H:%M:%S"));
        // Each part isolated (bdi), so digits and separators keep their order in RTL.
        html! {
            time datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) title=(utc) {
                bdi { (self.digits(&shown)) }
                @if let Some(hijri) = hijri {
                    " · " bdi.hijri { (self.digits(&hijri)) }
                }
            }
        }
    }
}

/// Asia/Riyadh: UTC+3, no daylight saving.
pub(crate) fn riyadh() -> FixedOffset {
    // 3 hours east is within chrono's ±24 h bound: `east_opt` cannot return None.
    FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset")
}

/// The value of a cookie of the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::header::ACCEPT_LANGUAGE;

    use super::*;

    #[test]
    fn arabic_first_unless_english_is_preferred() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of(&headers), Lang::Ar);
        headers.insert(ACCEPT_LANGUAGE, "en-GB,en;q=0.9,ar;q=0.5".parse().unwrap());
        assert_eq!(Lang::of(&headers), Lang::En);
        headers.insert(COOKIE, "rabt_lang=ar".parse().unwrap());
        assert_eq!(Lang::of(&headers), Lang::Ar, "the switch wins");
        let mut any = HeaderMap::new();
        any.insert(ACCEPT_LANGUAGE, "*".parse().unwrap());
        assert_eq!(
            Lang::of(&any),
            Lang::Ar,
            "`*` prefers no language to Arabic"
        );
    }

    #[test]
    fn numbers_and_times_follow_the_language() {
        assert_eq!(Lang::En.num(1234567), "1,234,567");
        assert_eq!(Lang::Ar.num(1234567), "١٬٢٣٤٬٥٦٧");
        assert_eq!(Lang::Ar.percent(0.975), "٩٧٫٥٪");
        let at = DateTime::parse_from_rfc3339("2026-12-07T04:18:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let en = Lang::En.time(at).into_string();
        assert!(en.contains("2026-12-07 07:18:05"), "{en}");
        assert!(en.contains("title=\"2026-12-07 04:18:05 UTC\""), "{en}");
        assert!(en.contains("AH"), "{en}");
        let ar = Lang::Ar.time(at).into_string();
        assert!(ar.contains("٢٠٢٦-١٢-٠٧ ٠٧:١٨:٠٥"), "{ar}");
    }
}
