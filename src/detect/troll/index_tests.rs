//! The near-duplicate index on hand-made messages.

use super::super::signature::{Signer, BINS};
use super::*;
use crate::text::tokenize::Tokens;

fn settings() -> IndexSettings {
    IndexSettings {
        window_ms: 15 * 60_000,
        threshold: 0.7,
        max_clusters: 1000,
        max_members: 100,
    }
}

/// A text's tokens, signature and count of signed tokens.
fn signed(text: &str) -> (Tokens, Signature, usize) {
    let mut tokens = Tokens::new();
    tokens.tokenize(text);
    let mut sig = [0u8; BINS];
    let info = Signer::new().sign(&tokens, &mut sig);
    (tokens, sig, info.tokens)
}

fn add(index: &mut TrollIndex, ts_ms: i64, text: &str, author: &str) -> Placement {
    let (tokens, sig, token_count) = signed(text);
    let m = Comment {
        ts_ms,
        text,
        author,
        tokens: &tokens,
        token_count,
        negative: true,
        score: -0.5,
        signature: None,
    };
    index.insert(&m, &sig)
}

const T: &str = "basta coprire i responsabili del disastro INPS, fuori i nomi di chi ha sbagliato e che paghino di tasca loro";

#[test]
fn copies_join_one_cluster_with_their_evidence() {
    let mut ix = TrollIndex::new(settings());
    let first = add(&mut ix, 0, T, "a1");
    let Placement::New(id) = first else { panic!() };
    for i in 0..5 {
        let text = format!("@presidenza_inps {} #fuoriinomi", T.to_uppercase());
        assert!(
            matches!(add(&mut ix, 1000 * i, &text, &format!("a{}", i % 3)), Placement::Joined { id: j, .. } if j == id)
        );
    }
    let c = ix.cluster(id).unwrap();
    assert_eq!(c.messages, 6);
    assert_eq!(c.distinct_authors(), 3);
    let d = c.detail.as_ref().unwrap();
    assert_eq!(d.mentions.get("presidenza_inps"), Some(&5));
    assert!(d
        .repeaters
        .values()
        .any(|(name, posts)| &**name == "a1" && *posts >= 2));
    assert!(matches!(
        add(
            &mut ix,
            9000,
            "il sito non funziona da stamattina e nessuno risponde mai",
            "z"
        ),
        Placement::New(_)
    ));
}

#[test]
fn generations_expire_and_active_clusters_survive() {
    let mut ix = TrollIndex::new(settings());
    let Placement::New(active) = add(&mut ix, 0, T, "a") else {
        panic!()
    };
    add(
        &mut ix,
        0,
        "un messaggio del tutto diverso che nessuno ripeterà mai più uguale",
        "b",
    );
    // The campaign goes on 10 minutes later: re-homed into a newer generation.
    add(&mut ix, 10 * 60_000, T, "c");
    ix.expire(25 * 60_000);
    assert!(ix.cluster(active).is_some(), "active cluster kept");
    assert_eq!(
        ix.len(),
        1,
        "the one-off message expired with its generation"
    );
    ix.expire(60 * 60_000);
    assert!(ix.is_empty());
}

#[test]
fn the_cluster_cap_evicts_the_oldest_generation() {
    // 200 distinct messages `step_ms` apart into an index capped at 50 clusters.
    let capped = |step_ms: i64| {
        let mut ix = TrollIndex::new(IndexSettings {
            max_clusters: 50,
            ..settings()
        });
        for i in 0..200 {
            let text = format!("messaggio unico numero {i} parola{i} altra{i} ancora{i}");
            add(&mut ix, i * step_ms, &text, "x");
        }
        ix
    };
    let ix = capped(10_000);
    assert!(ix.len() <= 50);
    assert!(ix.evicted > 0);
    // A flood within one generation is capped too.
    let ix = capped(1);
    assert_eq!(ix.len(), 50);
    assert!(ix.evicted >= 140, "{}", ix.evicted);
}

/// 24 distinct words, those at `changed` replaced.
fn words_with(changed: &[usize]) -> String {
    (0..24)
        .map(|i| match changed.contains(&i) {
            true => format!("altra{i}"),
            false => format!("parola{i}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A member that drifted from the first message becomes an anchor: a later copy close to it,
/// and not to the first, still joins the cluster, in the index that made the anchor and in
/// one restored from a snapshot of it.
#[test]
fn copies_join_by_an_anchor_before_and_after_a_restore() {
    use super::super::signature::similarity;
    let (a, b, c) = (words_with(&[]), words_with(&[3]), words_with(&[3, 15]));
    let sig = |text: &str| signed(text).1;
    // The texts are what the test needs: b joins a as an anchor, c is close to b only.
    let (ab, bc, ac) = (
        similarity(&sig(&a), &sig(&b)),
        similarity(&sig(&b), &sig(&c)),
        similarity(&sig(&a), &sig(&c)),
    );
    assert!(
        (0.7..ANCHOR_BELOW).contains(&ab) && bc >= 0.7 && ac < 0.7,
        "{ab} {bc} {ac}"
    );

    let mut alone = TrollIndex::new(settings());
    add(&mut alone, 0, &a, "u0");
    assert!(
        matches!(add(&mut alone, 1_000, &c, "u2"), Placement::New(_)),
        "c alone is not a"
    );

    let mut index = TrollIndex::new(settings());
    let Placement::New(id) = add(&mut index, 0, &a, "u0") else {
        panic!("a starts a cluster")
    };
    assert!(matches!(add(&mut index, 1_000, &b, "u1"), Placement::Joined { id: j, .. } if j == id));
    let bytes = postcard::to_stdvec(&index).unwrap();
    let mut restored: TrollIndex = postcard::from_bytes(&bytes).unwrap();
    for index in [&mut index, &mut restored] {
        let joined = add(index, 2_000, &c, "u2");
        assert!(
            matches!(joined, Placement::Joined { id: j, .. } if j == id),
            "{joined:?}"
        );
        // Another drifted cluster gets anchors of its own, and keeps them apart.
        let voce = |changed: &[usize]| words_with(changed).replace("parola", "voce");
        let (d, e, f) = (voce(&[]), voce(&[3]), voce(&[3, 15]));
        let Placement::New(other) = add(index, 3_000, &d, "u3") else {
            panic!("d starts a cluster")
        };
        assert_ne!(other, id);
        assert!(
            matches!(add(index, 4_000, &e, "u4"), Placement::Joined { id: j, .. } if j == other)
        );
        assert!(
            matches!(add(index, 5_000, &f, "u5"), Placement::Joined { id: j, .. } if j == other)
        );
        assert_eq!(index.cluster(id).map(|c| c.messages), Some(3));
    }
}
