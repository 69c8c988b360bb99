//! Generated English-like text for recall's scale measurements (`examples/recall_scale.rs`,
//! `benches/recall.rs`): deterministic for a seed, Zipf-distributed words over a vocabulary
//! that grows with the store (Heaps' law), about 45 % stop words, and questions of 3 to 12
//! words.

#![allow(dead_code)]

const STOP: &[&str] = &[
    "the", "a", "to", "and", "of", "in", "it", "is", "that", "for", "on", "with", "was", "we", "i",
    "you", "this", "but", "be", "at", "have", "so", "they", "just", "my", "about", "from",
];

const COMMON: &str = "time people year way day thing man world life hand part child eye woman place work week case point government company number group problem fact water money story month lot right study book job word business issue side kind head house service friend father power hour game line end member law car city community name president team minute idea kid body information back parent face others level office door health person art war history party result change morning reason research girl guy moment air teacher force education foot boy age policy process music market sense nation plan college interest death experience effect use class control care field development role effort rate heart drug show leader light voice wife police mind price report decision son view relationship town road arm difference value building action model season society tax director position player record paper space ground form event official matter center couple site project activity star table need court oil situation cost industry figure street image phone data picture practice piece land product doctor wall patient worker news test movie north love support technology step baby computer type attention film tree source organization hair window evidence population site deploy server database cache query index cluster release branch commit merge build pipeline config secret token key vault backup restore schema migration table column request response client timeout retry queue worker job schedule cron alert dashboard metric log trace error bug fix patch test suite coverage lint format review feature flag rollout canary region zone node pod container image registry network proxy ingress route domain certificate user account session password login permission role policy audit compliance invoice payment customer order cart product price discount shipping warehouse inventory supplier contract meeting standup retro sprint ticket epic story estimate deadline roadmap milestone launch demo garden painting pottery camping hiking swimming running concert museum beach mountain lake forest park dog cat horse bird adoption school class career counseling volunteer festival parade wedding birthday holiday trip vacation flight hotel restaurant recipe dinner breakfast coffee tea book novel poem song guitar piano violin";

/// A small deterministic generator (SplitMix64): the same seed builds the same store.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words drawn from a Zipf(1) distribution over `vocabulary` ranks: rank r has weight 1/r,
/// sampled by inverting the harmonic approximation `H(r) ≈ ln r + γ`.
pub struct Words {
    common: Vec<&'static str>,
    vocabulary: usize,
}

impl Words {
    pub fn new(memories: usize) -> Self {
        let common: Vec<&'static str> = COMMON.split_whitespace().collect();
        // Heaps' law, roughly: distinct words grow with the square root of the text.
        let vocabulary = common.len() + (40.0 * (memories as f64 * 15.0).sqrt()) as usize;
        Words { common, vocabulary }
    }

    fn word(&self, rng: &mut Rng) -> String {
        let h = (self.vocabulary as f64).ln() + 0.577;
        let rank = ((rng.unit() * h - 0.577).exp().floor() as usize).clamp(1, self.vocabulary);
        match self.common.get(rank - 1) {
            Some(w) => (*w).to_owned(),
            None => format!("w{rank:x}q"),
        }
    }

    pub fn sentence(&self, rng: &mut Rng, min: usize, max: usize) -> String {
        let n = min + rng.below(max - min + 1);
        (0..n)
            .map(|_| {
                if rng.unit() < 0.45 {
                    STOP[rng.below(STOP.len())].to_owned()
                } else {
                    self.word(rng)
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn question(&self, rng: &mut Rng) -> String {
        const OPENERS: &[&str] = &[
            "What did we decide about",
            "When did",
            "Where is",
            "How do I",
            "Who handled",
            "Why did the",
        ];
        let opener = OPENERS[rng.below(OPENERS.len())];
        let opener_words = opener.split_whitespace().count();
        let extra = (3 + rng.below(10)).saturating_sub(opener_words).max(1);
        let rest: Vec<String> = (0..extra).map(|_| self.word(rng)).collect();
        format!("{opener} {}?", rest.join(" "))
    }
}

impl Words {
    /// `n` memories of 6 to 30 words.
    pub fn memories(&self, rng: &mut Rng, n: usize) -> Vec<String> {
        (0..n).map(|_| self.sentence(rng, 6, 30)).collect()
    }
}
