//! Which language a caller reads: Arabic or English, from `Accept-Language`.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;

/// The languages Rabt answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English, the default.
    #[default]
    En,
    /// Arabic.
    Ar,
}

impl Lang {
    /// The language tag for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ar => "ar",
        }
    }

    /// The preferred of Arabic and English in an `Accept-Language` header (RFC 9110
    /// §12.5.4): the one with the higher quality value; English when neither is named or
    /// they tie. `*` counts for English.
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        let Some(q) = Qualities::of(headers) else {
            return Lang::En;
        };
        if q.ar > q.en.max(q.any) {
            Lang::Ar
        } else {
            Lang::En
        }
    }

    /// Picks the text in this language.
    pub fn pick<'a>(self, en: &'a str, ar: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ar => ar,
        }
    }
}

/// The quality values (RFC 9110 §12.5.4) an `Accept-Language` header gives Arabic,
/// English and `*`: 0 for one it does not name. What each surface makes of them (which
/// wins a tie, whether `*` counts) is its own choice.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Qualities {
    /// `ar` and its regional tags (`ar-SA`).
    pub(crate) ar: f32,
    /// `en` and its regional tags.
    pub(crate) en: f32,
    /// `*`, any language.
    pub(crate) any: f32,
}

impl Qualities {
    /// The header's qualities, or `None` without a readable header.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Qualities> {
        let value = headers.get(ACCEPT_LANGUAGE)?.to_str().ok()?;
        let mut q = Qualities::default();
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match tag.split('-').next().unwrap_or("") {
                "ar" => q.ar = q.ar.max(quality),
                "en" => q.en = q.en.max(quality),
                "*" => q.any = q.any.max(quality),
                _ => {}
            }
        }
        Some(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang(value: &str) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(value).unwrap());
        Lang::negotiate(&headers)
    }

    #[test]
    fn negotiates_by_quality() {
        assert_eq!(lang("ar"), Lang::Ar);
        assert_eq!(lang("ar-SA,ar;q=0.9,en;q=0.8"), Lang::Ar);
        assert_eq!(lang("en-GB,ar;q=0.5"), Lang::En);
        assert_eq!(lang("fr, ar;q=0.4"), Lang::Ar);
        assert_eq!(lang("fr"), Lang::En);
        assert_eq!(lang("ar;q=0.5, *;q=0.9"), Lang::En);
        assert_eq!(lang("garbage;;q=x"), Lang::En);
        assert_eq!(Lang::negotiate(&HeaderMap::new()), Lang::En);
    }
}
