//! AMQP topic matching, for the embedded transport's events: words are separated by
//! `.`, `*` stands for exactly one word and `#` for zero or more words
//! (<https://www.rabbitmq.com/tutorials/tutorial-five-python>).

/// True when `routing_key` matches the binding key `pattern`.
pub(crate) fn matches(pattern: &str, routing_key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = routing_key.split('.').collect();
    matches_words(&pattern, &key)
}

fn matches_words(pattern: &[&str], key: &[&str]) -> bool {
    // reachable[j]: the pattern words consumed so far can match the first j key words.
    let mut reachable = vec![false; key.len() + 1];
    reachable[0] = true;
    for word in pattern {
        let mut next = vec![false; key.len() + 1];
        for j in 0..=key.len() {
            if !reachable[j] {
                continue;
            }
            match *word {
                "#" => next[j..].iter_mut().for_each(|r| *r = true),
                "*" => {
                    if j < key.len() {
                        next[j + 1] = true;
                    }
                }
                literal => {
                    if key.get(j) == Some(&literal) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable[key.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::matches;

    #[test]
    fn literal_keys_match_only_themselves() {
        assert!(matches(
            "request.completed.coop_1",
            "request.completed.coop_1"
        ));
        assert!(!matches(
            "request.completed.coop_1",
            "request.completed.coop_2"
        ));
        assert!(!matches("request.completed", "request.completed.coop_1"));
    }

    #[test]
    fn star_is_exactly_one_word() {
        assert!(matches("request.completed.*", "request.completed.coop_1"));
        assert!(!matches("request.completed.*", "request.completed"));
        assert!(!matches("request.*", "request.completed.coop_1"));
        assert!(matches("*.completed.*", "task.completed.x"));
    }

    #[test]
    fn hash_is_zero_or_more_words() {
        assert!(matches("#", "anything.at.all"));
        assert!(matches("#", ""));
        assert!(matches("request.#", "request"));
        assert!(matches("request.#", "request.completed.coop_1"));
        assert!(matches("#.coop_1", "request.completed.coop_1"));
        assert!(matches("request.#.coop_1", "request.coop_1"));
        assert!(!matches("request.#", "task.completed"));
        assert!(matches("#.completed.#", "a.b.completed"));
    }
}
