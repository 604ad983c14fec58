//! Between our string headers and AMQP field tables.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::names::DELIVERY_COUNT_HEADER;

/// Our headers as an AMQP table of long strings. Names were checked to fit a short
/// string (`check_outgoing`); a longer one is skipped rather than panicking.
pub(crate) fn to_table(headers: &[(String, String)]) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in headers {
        if let Ok(name) = ShortString::try_new(name.as_str()) {
            table.insert(
                name,
                AMQPValue::LongString(LongString::from(value.as_str())),
            );
        }
    }
    table
}

/// The scalar headers of a table as text; nested tables and arrays (RabbitMQ's
/// `x-death`) are left out.
pub(crate) fn from_table(table: Option<&FieldTable>) -> Vec<(String, String)> {
    let Some(table) = table else {
        return Vec::new();
    };
    table
        .inner()
        .iter()
        .filter_map(|(name, value)| scalar(value).map(|v| (name.to_string(), v)))
        .collect()
}

fn scalar(value: &AMQPValue) -> Option<String> {
    Some(match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::Timestamp(n) => n.to_string(),
        AMQPValue::Float(n) => n.to_string(),
        AMQPValue::Double(n) => n.to_string(),
        AMQPValue::DecimalValue(_)
        | AMQPValue::FieldArray(_)
        | AMQPValue::FieldTable(_)
        | AMQPValue::ByteArray(_)
        | AMQPValue::Void => return None,
    })
}

/// A quorum queue's count of earlier deliveries (`x-delivery-count`), 0 when absent.
pub(crate) fn delivery_count(table: Option<&FieldTable>) -> u32 {
    let value = table.and_then(|t| t.inner().get(DELIVERY_COUNT_HEADER));
    let count = match value {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        Some(AMQPValue::LongUInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortUInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortShortInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortShortUInt(n)) => i64::from(*n),
        _ => 0,
    };
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

/// The reason of the most recent dead-lettering, from RabbitMQ's `x-death` header
/// (an array of tables, most recent first).
/// <https://www.rabbitmq.com/docs/dlx#effects>
pub(crate) fn last_death_reason(table: Option<&FieldTable>) -> Option<String> {
    let Some(AMQPValue::FieldArray(deaths)) = table.and_then(|t| t.inner().get("x-death")) else {
        return None;
    };
    match deaths.as_slice().first() {
        Some(AMQPValue::FieldTable(death)) => death.inner().get("reason").and_then(scalar),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use lapin::types::FieldArray;

    #[test]
    fn string_headers_round_trip() {
        let headers = vec![
            ("traceparent".to_owned(), "00-abc-def-01".to_owned()),
            ("x-rabt-attempt".to_owned(), "3".to_owned()),
        ];
        let table = to_table(&headers);
        let mut back = from_table(Some(&table));
        back.sort();
        let mut expected = headers;
        expected.sort();
        assert_eq!(back, expected);
    }

    #[test]
    fn numbers_become_text_and_nested_values_are_skipped() {
        let mut table = FieldTable::default();
        table.insert(DELIVERY_COUNT_HEADER.into(), AMQPValue::LongLongInt(4));
        table.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::default()),
        );
        assert_eq!(
            from_table(Some(&table)),
            vec![(DELIVERY_COUNT_HEADER.to_owned(), "4".to_owned())]
        );
        assert_eq!(delivery_count(Some(&table)), 4);
        assert_eq!(delivery_count(None), 0);
    }

    #[test]
    fn the_most_recent_death_gives_the_reason() {
        let death = |reason: &str| {
            let mut t = FieldTable::default();
            t.insert("reason".into(), AMQPValue::LongString(reason.into()));
            AMQPValue::FieldTable(t)
        };
        let mut table = FieldTable::default();
        table.insert(
            "x-death".into(),
            AMQPValue::FieldArray(vec![death("delivery_limit"), death("expired")].into()),
        );
        assert_eq!(
            last_death_reason(Some(&table)).as_deref(),
            Some("delivery_limit")
        );
        assert_eq!(last_death_reason(None), None);
    }
}
