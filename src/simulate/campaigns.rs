//! Troll campaigns for the simulator: templates posted with small edits (case, mentions,
//! hashtags, emoji) by throwaway accounts, as copy-paste campaigns do.

use super::comments::{FIRST, LAST};
use super::rng::Rng;

/// One campaign: a template and the variations its accounts apply.
pub struct TrollCampaign {
    template: &'static str,
    mentions: &'static [&'static str],
    hashtags: &'static [&'static str],
}

pub const CAMPAIGNS: &[TrollCampaign] = &[
    TrollCampaign {
        template: "l'INPS ha messo in piazza i dati di milioni di italiani e nessuno paga per questo. Dimissioni subito!",
        mentions: &["@presidenza_inps", "@min_lavoro", "@palazzochigi"],
        hashtags: &["#INPSvergogna", "#dimissioni", "#datirubati"],
    },
    TrollCampaign {
        template: "Vergogna! Il vostro sito è stato un regalo agli hacker e ai furbetti mentre i cittadini onesti restano senza un euro",
        mentions: &["@INPS_it", "@min_economia", "@palazzochigi"],
        hashtags: &["#INPSdisastro", "#bonus600", "#vergogna"],
    },
    TrollCampaign {
        template: "basta coprire i responsabili del disastro INPS, fuori i nomi di chi ha sbagliato e che paghino di tasca loro",
        mentions: &["@presidenza_inps", "@camera_deputati", "@senato"],
        hashtags: &["#fuoriinomi", "#INPSvergogna"],
    },
];

/// A campaign post: the template with the small edits copy-paste accounts make.
pub fn troll_post(rng: &mut Rng, campaign: &TrollCampaign) -> String {
    let mut words: Vec<String> = campaign.template.split(' ').map(str::to_string).collect();
    if rng.chance(0.3) && words.len() > 8 {
        let i = 1 + rng.below(words.len() - 2);
        words.remove(i);
    }
    if rng.chance(0.2) {
        let i = rng.below(words.len());
        words[i] = words[i].to_uppercase();
    }
    let mut text = words.join(" ");
    if rng.chance(0.15) {
        text = text.to_uppercase();
    }
    let mut mentions: Vec<&str> = vec![campaign.mentions[0]];
    if rng.chance(0.4) {
        mentions.push(*rng.pick(&campaign.mentions[1..]));
    }
    let mut tags: Vec<&str> = vec![campaign.hashtags[0]];
    if rng.chance(0.5) {
        tags.push(*rng.pick(&campaign.hashtags[1..]));
    }
    let emoji = if rng.chance(0.4) {
        *rng.pick(&["😡", "🤬", "👎", "😡😡", "🤮"])
    } else {
        ""
    };
    let lead = mentions.join(" ");
    let tail = tags.join(" ");
    if rng.chance(0.5) {
        format!("{lead} {text} {tail} {emoji}")
            .trim_end()
            .to_string()
    } else {
        format!("{text} {lead} {emoji} {tail}").replace("  ", " ")
    }
}

/// A throwaway account of a campaign.
pub fn troll_account(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("patriota_{}", rng.range(1000, 9999)),
        1 => format!("{}{}", rng.pick(FIRST), rng.range(100_000, 999_999)),
        2 => format!("italia_libera{}", rng.range(10, 99)),
        _ => format!(
            "{}_{}_{}",
            rng.pick(FIRST),
            rng.pick(LAST),
            rng.range(1, 99)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SentimentConfig;
    use crate::text::lexicon::Lexicon;
    use crate::text::sentiment::{Label, SentimentScorer};

    /// A campaign's posts read as what they are, so a campaign's cluster shows negative on
    /// the status page and the share without it is not the higher one.
    #[test]
    fn every_campaign_post_reads_negative() {
        let mut scorer = SentimentScorer::new(
            std::sync::Arc::new(Lexicon::bundled()),
            &SentimentConfig::default(),
        );
        let mut rng = Rng::new(5);
        for campaign in CAMPAIGNS {
            for _ in 0..50 {
                let post = troll_post(&mut rng, campaign);
                let scored = scorer.score(&post, None);
                assert_eq!(scored.label, Label::Negative, "{post}: {}", scored.score);
            }
        }
    }
}
