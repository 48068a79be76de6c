//! Numbers and durations as people say them, in English and Italian.

/// "1 h 10 min", "47 min": durations as a person says them.
pub fn human_duration(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// A number with one decimal, Italian style: "3,3".
pub fn decimal_it(x: f64) -> String {
    format!("{x:.1}").replace('.', ",")
}

/// Whether an Italian number word starts with a vowel ("uno", "otto", "undici",
/// "ottanta", "ottocento"...), which changes the article before it: "l'86%", "degli 81".
pub fn vowel_number_it(n: u64) -> bool {
    let first = n.to_string().as_bytes()[0];
    n == 1 || n == 11 || first == b'8' || (11_000..12_000).contains(&n)
}

/// Italian article + number: `("il", "l'")` choose by the number's sound.
pub fn article_it(n: u64, consonant: &str, vowel: &str) -> String {
    if vowel_number_it(n) {
        format!("{vowel}{n}")
    } else {
        format!("{consonant} {n}")
    }
}

/// The same in Italian: "1 ora e 10 minuti", "47 minuti".
pub fn human_duration_it(minutes: u32) -> String {
    let hours = |h: u32| {
        if h == 1 {
            "1 ora".to_string()
        } else {
            format!("{h} ore")
        }
    };
    let mins = |m: u32| {
        if m == 1 {
            "1 minuto".to_string()
        } else {
            format!("{m} minuti")
        }
    };
    match (minutes / 60, minutes % 60) {
        (0, m) => mins(m),
        (h, 0) => hours(h),
        (h, m) => format!("{} e {}", hours(h), mins(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn italian_articles_follow_the_sound_of_the_number() {
        assert_eq!(article_it(86, "il", "l'"), "l'86");
        assert_eq!(article_it(69, "il", "l'"), "il 69");
        assert_eq!(article_it(81, "dei", "degli "), "degli 81");
        assert_eq!(article_it(11, "i", "gli "), "gli 11");
        assert_eq!(article_it(18, "i", "gli "), "i 18");
        assert_eq!(article_it(1, "del", "dell'"), "dell'1");
        assert_eq!(article_it(800, "del", "dell'"), "dell'800");
        assert_eq!(article_it(100, "del", "dell'"), "del 100");
    }

    #[test]
    fn italian_durations() {
        assert_eq!(human_duration_it(1), "1 minuto");
        assert_eq!(human_duration_it(47), "47 minuti");
        assert_eq!(human_duration_it(60), "1 ora");
        assert_eq!(human_duration_it(130), "2 ore e 10 minuti");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(47), "47 min");
        assert_eq!(human_duration(70), "1 h 10 min");
        assert_eq!(human_duration(120), "2 h");
    }
}
