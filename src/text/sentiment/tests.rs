//! Unit tests of the lexicon scorer and, with the shipped models, of the final labels.

use super::*;

/// The lexicon and its rules alone: the tests below check the rules themselves.
fn scorer() -> SentimentScorer {
    SentimentScorer::with_models(
        Arc::new(Lexicon::bundled()),
        Models::default(),
        &SentimentConfig::default(),
    )
}

fn label(text: &str) -> Label {
    let mut s = scorer();
    let scored = s.score(text, None);
    s.label(scored.score)
}

#[test]
fn italian_complaints_are_negative() {
    for text in [
        "Vergognatevi! Il sito dell'INPS è bloccato da stamattina e nessuno risponde",
        "Sono tre ore che provo a fare la domanda per il bonus, una vergogna",
        "Ladri e incompetenti, avete rubato i dati di mezza Italia",
        "Il sito non funziona, ho perso la mattinata",
        "Che schifo, mia madre aspetta la pensione da due mesi 😡",
        "Servizio pessimo, assistenza inesistente",
    ] {
        assert_eq!(label(text), Label::Negative, "{text}");
    }
}

#[test]
fn italian_praise_and_thanks_are_positive() {
    for text in [
        "Grazie mille, finalmente ho ricevuto il pagamento!",
        "Complimenti all'operatrice del call center, gentilissima e disponibile",
        "Tutto risolto in pochi minuti, bravi 👍",
        "Il sito adesso funziona bene, ottimo lavoro",
    ] {
        assert_eq!(label(text), Label::Positive, "{text}");
    }
}

#[test]
fn negation_flips_polarity() {
    let mut s = scorer();
    let works = s.score("il sito funziona", None).score;
    let broken = s.score("il sito non funziona", None).score;
    assert!(works > 0.0 && broken < 0.0, "{works} {broken}");
    let bad = s.score("è un disastro", None).score;
    let not_bad = s.score("non è affatto un disastro", None).score;
    assert!(bad < not_bad && not_bad > 0.0, "{bad} {not_bad}");
    assert!(s.score("senza problemi, tutto facile", None).score > 0.0);
}

#[test]
fn questions_are_neutral() {
    assert_eq!(
        label("Come si fa la domanda se sono una partita iva?"),
        Label::Neutral
    );
    assert_eq!(
        label("Quando arriva il pagamento di aprile?"),
        Label::Neutral
    );
}

#[test]
fn intensifiers_caps_and_exclamations_amplify() {
    let mut s = scorer();
    let plain = s.score("il servizio è lento", None).score;
    let very = s.score("il servizio è molto lento", None).score;
    let caps = s.score("il servizio è LENTO", None).score;
    let bang = s.score("il servizio è lento!!!", None).score;
    assert!(
        very < plain && caps < plain && bang < plain,
        "{plain} {very} {caps} {bang}"
    );
    let little = s.score("il servizio è un po' lento", None).score;
    assert!(little > plain, "{little} {plain}");
}

#[test]
fn contrast_weights_the_second_clause() {
    let mut s = scorer();
    let score = s
        .score(
            "L'operatore è stato gentile ma il problema non è risolto",
            None,
        )
        .score;
    assert!(score < 0.0, "{score}");
}

#[test]
fn english_uses_vader() {
    assert_eq!(
        label("This website is a disaster, I can't log in"),
        Label::Negative
    );
    assert_eq!(
        label("Thanks, the payment arrived, great job"),
        Label::Positive
    );
    let mut s = scorer();
    assert!(s.score("it doesn't help", None).score < 0.0);
    assert!(s.score("it helps", None).score > 0.0);
}

#[test]
fn guesses_language_and_honours_given_tag() {
    let mut s = scorer();
    assert_eq!(s.score("il sito non va", None).lang, Lang::It);
    assert_eq!(s.score("the website is down again", None).lang, Lang::En);
    assert_eq!(
        s.score("el sitio no funciona", Some("es")).lang,
        Lang::Other
    );
}

#[test]
fn emoji_score_in_any_language() {
    let mut s = scorer();
    assert!(s.score("😡😡😡", Some("es")).score < -0.3);
    assert!(s.score("👍", None).score > 0.0);
}

#[test]
fn explanation_names_words_and_rules() {
    let mut s = scorer();
    let e = s.explain("Il sito NON funziona!!", None, None);
    assert_eq!(e.label, Label::Negative);
    let w = e.words.iter().find(|w| w.word == "funziona").unwrap();
    assert!(w.rules.contains(&"negated"));
    assert!(e.rules.iter().any(|r| r.contains("exclamation")));
    let up = s.explain("bellissimo", None, Some(-0.8));
    assert_eq!(up.score, -0.8);
    assert_eq!(up.lang_source, "upstream");
}

/// Comments a comms person reads at once, scored as a person would.
#[test]
fn everyday_errors_are_read_as_people_mean_them() {
    for (text, want) in [
        // Negation does not flip an emoji; concepts are not opinions.
        (
            "Vergogna! Il vostro sito è stato un regalo agli hacker … 🤮",
            Label::Negative,
        ),
        ("i dati personali di un altro utente", Label::Neutral),
        ("il partito della sicurezza, speriamo", Label::Neutral),
        ("non è sicuro 🤮", Label::Negative),
        // Sarcasm: praise beside a failure.
        (
            "Bravi, complimenti, un altro pesce d'aprile",
            Label::Negative,
        ),
        ("Ottimo, il sito è di nuovo giù", Label::Negative),
        ("Ma stiamo scherzando?!", Label::Negative),
        ("Great job guys, the website is down again", Label::Negative),
        // Plain thanks stay thanks.
        ("Grazie ancora, bravi!", Label::Positive),
        // Profanity, dialect, irregular verbs, questions.
        ("che figura di merda", Label::Negative),
        ("na schifezza", Label::Negative),
        ("nun funziona", Label::Negative),
        ("non riesco ad accedere", Label::Negative),
        ("funziona?", Label::Neutral),
    ] {
        assert_eq!(label(text), want, "{text}");
    }
}

#[test]
fn english_sarcasm_is_guessed_english() {
    let mut s = scorer();
    assert_eq!(
        s.score("Great job guys, the website is down again", None)
            .lang,
        Lang::En
    );
}

/// With the shipped models, the final label is the model's; the lexicon's score stays in
/// the explanation beside it, with the features that weighed most.
#[test]
fn the_shipped_model_explains_itself_beside_the_lexicon() {
    let mut s = SentimentScorer::with_models(
        Arc::new(Lexicon::bundled()),
        Models::bundled(),
        &SentimentConfig::default(),
    );
    let e = s.explain("Il sito non funziona, che vergogna", None, None);
    let m = e.model.as_ref().expect("an Italian model ships");
    assert_eq!(e.label, Label::Negative);
    assert!(m.probabilities[0] > 0.5, "{m:?}");
    assert!(e.lexicon_score < 0.0);
    assert!(!m.strongest.is_empty() && m.strongest.len() <= 8);
    let total: f32 = m.probabilities.iter().sum();
    assert!((total - 1.0).abs() < 1e-4);
    assert!(s
        .explain("the website works, thanks", None, None)
        .model
        .is_some());
}
