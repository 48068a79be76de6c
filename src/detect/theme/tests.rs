//! Unit tests of the theme table: hand-written comments, one-minute buckets.

use super::*;
use crate::config::ThemeConfig;

fn settings() -> ThemeSettings {
    ThemeSettings::new(&ThemeConfig::default(), 60_000)
}

/// Counts `texts` in the open bucket, then closes it.
fn minute(table: &mut ThemeTable, s: &ThemeSettings, texts: &[String]) {
    let (mut tokens, mut terms) = (Tokens::new(), Terms::new());
    for text in texts {
        tokens.tokenize(text);
        terms.extract(&tokens);
        table.on_comment(&terms, &tokens, false);
    }
    table.on_close(s);
}

/// Ordinary comments: varied words, a few of them common.
fn ordinary(minute: usize, n: usize) -> Vec<String> {
    let subjects = [
        "pensione", "domanda", "pratica", "bonus", "sito", "assegno", "modulo",
    ];
    let verbs = ["arriva", "manca", "serve", "scade", "cambia", "blocca"];
    (0..n)
        .map(|i| {
            let k = minute * n + i;
            format!(
                "quando {} la {} numero {} del cittadino {}",
                verbs[k % verbs.len()],
                subjects[(k / 3) % subjects.len()],
                k % 97,
                k % 13
            )
        })
        .collect()
}

#[test]
fn a_phrase_many_people_start_using_emerges_and_a_steady_one_does_not() {
    let s = settings();
    let mut table = ThemeTable::default();
    // A day of history at four comments a minute.
    for m in 0..600 {
        minute(&mut table, &s, &ordinary(m, 4));
    }
    assert!(table.emerging().is_empty(), "{:?}", table.emerging());
    // Then half the comments say they see another user's data, each in their own words.
    let data = [
        "vedo i dati di un altro utente",
        "mi escono i dati di uno sconosciuto",
        "compaiono i dati di altre persone nella mia area",
        "ci sono dati non miei, di un altro utente",
    ];
    for m in 600..610 {
        let mut texts = ordinary(m, 4);
        texts.extend(data.iter().map(|d| d.to_string()));
        minute(&mut table, &s, &texts);
    }
    let named = table.named();
    let dati = named
        .iter()
        .find(|e| e.phrase == "dati")
        .unwrap_or_else(|| panic!("{named:?}"));
    assert!(dati.share > 0.3 && dati.share <= 1.0, "{dati:?}");
    assert!(dati.lift >= 4.0, "{dati:?}");
    assert!(named.len() <= NAMED);
    // Common words of the ordinary comments are not themes.
    assert!(
        table
            .emerging()
            .iter()
            .all(|e| !["pensione", "domanda", "cittadino", "quando"].contains(&e.phrase.as_str())),
        "{:?}",
        table.emerging()
    );
    // When people stop, it fades.
    for m in 610..700 {
        minute(&mut table, &s, &ordinary(m, 4));
    }
    assert!(table.named().is_empty(), "{:?}", table.named());
}

#[test]
fn a_comment_repeating_a_word_counts_once_and_no_history_means_no_theme() {
    let s = settings();
    let mut table = ThemeTable::default();
    // Spam repeating one word, before any history: nothing, however loud.
    for _ in 0..5 {
        minute(
            &mut table,
            &s,
            &vec!["truffa truffa truffa truffa truffa".to_string(); 10],
        );
    }
    assert!(table.emerging().is_empty(), "{:?}", table.emerging());
    let mut table = ThemeTable::default();
    for m in 0..600 {
        minute(&mut table, &s, &ordinary(m, 4));
    }
    // One comment a minute repeating a word twenty times is one mention a minute.
    for m in 600..603 {
        let mut texts = ordinary(m, 4);
        texts.push(["truffa"; 20].join(" "));
        minute(&mut table, &s, &texts);
    }
    assert!(
        table.emerging().iter().all(|e| e.mentions < 4.0),
        "{:?}",
        table.emerging()
    );
}

#[test]
fn parts_of_a_named_phrase_mentioned_as_often_are_left_out() {
    assert!(contains_words("dati altro utente", "altro utente"));
    assert!(contains_words("altro utente", "altro utente"));
    assert!(!contains_words("dati altro utente", "utente altro"));
    assert!(!contains_words("dati altro", "dat"));
}
