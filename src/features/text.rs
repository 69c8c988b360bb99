//! The text sub-model of schema `v2`: multinomial logistic regression (or naive Bayes) over hashed
//! tokens.
//!
//! Tokens, from one pass over the text without allocating strings: every lowercased word (a run
//! of alphanumeric characters, `_` or `'`), every pair of adjacent words, the first word and the
//! first two words as *position* tokens, the first word's ending (`-s`, `-ed`, `-ing`), the
//! *head* (the first word and two words after a short label such as `"Search page: "`, or the
//! opening words again when there is none, and the ending of that word after a label), and shape
//! tokens (capitalised or lowercase start, final `.`/`?`/`:`/`,`, backticks, brackets,
//! parentheses, `::`, a version number, and the length in words, bucketed by 4 up to 24+).
//! Each token is a 64-bit hash (FNV-1a, then a SplitMix64 finaliser mixed with a salt per token
//! kind), so tokens of different kinds never share a slot by construction.
//!
//! Scores: logistic regression, bias + Σ w(layer, token) / √(known tokens) (fitted
//! by seeded AdaGrad with L2); naive Bayes, log prior + Σ log θ(layer, token) with
//! θ = (count + α) / (total + α·V) (Laplace/Lidstone smoothing). The router gets the scores
//! normalised so the best layer scores 0.
//!
//! A *kind-aware* logistic model ([`TextModel::fit_logistic_kinded`], trained when the examples
//! hold both agent notes and code comments, [`TextKind`]) keeps, in the same token table, a copy
//! of every token per kind (salted apart) and a logistic classifier of the kind; a text's
//! scores add each kind's copies weighted by the classifier's probability of that kind, or by
//! 0 and 1 when the caller knows the kind (`Some(kind)` in [`TextModel::scores`]). Models saved
//! before it have no such entries and score as they did, whatever kind they are told.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::is_word_char;
use crate::enum_str::string_enum;
use crate::error::{Error, Result};
use crate::layer::Layer;

/// Keys are already well-mixed 64-bit hashes: hash them as themselves.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type TokenMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SALT_WORD: u64 = 0x01;
const SALT_PAIR: u64 = 0x02;
const SALT_FIRST: u64 = 0x03;
const SALT_FIRST_TWO: u64 = 0x04;
const SALT_SHAPE: u64 = 0x05;
const SALT_SUFFIX: u64 = 0x06;
const SALT_HEAD: u64 = 0x07;
const SALT_HEAD_TWO: u64 = 0x08;
/// A token's weight in a kind-aware model's classifier of the kind of text.
const SALT_KIND: u64 = 0x10;
/// A token's layer weights in a kind-aware model, copied per kind: notes, code comments.
const COPY_SALT: [u64; 2] = [0x11, 0x12];

/// Where a kind-aware model keeps its kind classifier's bias (a key no token hashes to in
/// practice: a 64-bit hash of its own salt).
const KIND_BIAS_KEY: u64 = 0x13 ^ 0x9E37_79B9_7F4A_7C15;

/// Fewest examples of each kind for [`TextModel::fit_logistic_kinded`] to learn per-kind
/// weights: below it a kind's copies would be fitted on too little to mean anything.
pub const MIN_PER_KIND: usize = 20;

string_enum! {
    /// What kind of text an item is. The same sentence can mean different layers in the two:
    /// "Add retry to the client" is a next step (prospective) in an agent's notes and a
    /// changelog entry (episodic) in a crate's comments. Declaration order is each kind's index.
    pub enum TextKind as "kind" {
        /// A note an agent or a person keeps: what they saw, did, know and mean to do.
        Note => "note",
        /// A comment or doc line from source code, a changelog or a README.
        CodeComment => "code_comment",
    }
}

impl Default for TextKind {
    /// A note: what agents write.
    fn default() -> Self {
        TextKind::Note
    }
}

impl TextKind {
    /// The probability of a code comment that a known kind stands for.
    fn code_probability(self) -> f64 {
        match self {
            TextKind::Note => 0.0,
            TextKind::CodeComment => 1.0,
        }
    }
}

fn token(salt: u64, h: u64) -> u64 {
    mix(h ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A token's characters: a keyword's word characters, plus `'` so that "don't" is one token.
fn is_token_char(c: char) -> bool {
    is_word_char(c) || c == '\''
}

/// Calls `emit` with every token hash of `text` (repeats included).
pub fn for_each_token(text: &str, mut emit: impl FnMut(u64)) {
    let (first_word_tail, opening) = emit_words(text, &mut emit);
    // Without a label the head is the opening, whose words are already hashed.
    let (head, head_ending) = match Head::label_end(text) {
        Some(end) => head_tokens(text, &Head::at(text, Some(end))),
        None => (head_pair(opening[0], opening[1]), None),
    };
    head.into_iter().flatten().for_each(&mut emit);
    ending_token(first_word_tail, 0)
        .into_iter()
        .for_each(&mut emit);
    head_ending.into_iter().for_each(&mut emit);
    emit_shapes(text, &mut emit);
}

/// Ending token ids of a head word after a label are the first word's ids plus this.
const HEAD_ENDING: u64 = 3;

/// Where a note's *head* is: the first two words after a short label ("Auth layer: Updated the
/// header…" → "updated", "updated the"), or the first two words when there is no label. Notes
/// in lists often open with a label, and what follows it says what kind of note it is.
struct Head {
    /// Whether a label came first.
    labelled: bool,
    /// Byte ranges of the first and second head word.
    words: [Option<(usize, usize)>; 2],
}

impl Head {
    /// Most words a label has.
    const LABEL_WORDS: usize = 5;

    /// The byte offset after the label's separator, when `text` opens with a label: one to
    /// [`Self::LABEL_WORDS`] words, then `": "`, `" — "`, `" – "` or `" - "`. One pass that stops
    /// after the sixth word, so long texts cost no more than short ones.
    fn label_end(text: &str) -> Option<usize> {
        let bytes = text.as_bytes();
        let (mut words, mut in_word) = (0, false);
        for (i, &b) in bytes.iter().enumerate() {
            let rest = &bytes[i + 1..];
            let end = match b {
                b':' if rest.first() == Some(&b' ') => Some(i + 2),
                b' ' => ["- ", "— ", "– "]
                    .iter()
                    .find(|dash| rest.starts_with(dash.as_bytes()))
                    .map(|dash| i + 1 + dash.len()),
                _ => None,
            };
            if let Some(end) = end {
                return (words > 0).then_some(end);
            }
            if b.is_ascii_whitespace() {
                in_word = false;
            } else if !in_word {
                words += 1;
                in_word = true;
                if words > Self::LABEL_WORDS {
                    return None;
                }
            }
        }
        None
    }

    fn of(text: &str) -> Head {
        Self::at(text, Self::label_end(text))
    }

    /// The head of `text` whose label ends at `label_end` (see [`Head::label_end`]).
    fn at(text: &str, label_end: Option<usize>) -> Head {
        let start = label_end.unwrap_or(0);
        let mut words = [None; 2];
        let mut found = 0;
        let mut word_start = None;
        for (i, c) in text[start..].char_indices() {
            match (is_token_char(c), word_start) {
                (true, None) => word_start = Some(start + i),
                (false, Some(a)) => {
                    words[found] = Some((a, start + i));
                    found += 1;
                    word_start = None;
                    if found == 2 {
                        break;
                    }
                }
                _ => {}
            }
        }
        if let (Some(a), true) = (word_start, found < 2) {
            words[found] = Some((a, text.len()));
        }
        Head {
            labelled: label_end.is_some(),
            words,
        }
    }
}

/// The head tokens, the head's first word and its first two words, and the head word's ending
/// token when it follows a label. Not generic, so the word loop it sits beside stays small.
#[inline(never)]
fn head_tokens(text: &str, head: &Head) -> ([Option<u64>; 2], Option<u64>) {
    let Some((a, b)) = head.words[0] else {
        return ([None; 2], None);
    };
    let second = head.words[1].map(|(c, d)| word_hash(&text[c..d]));
    let ending = head
        .labelled
        .then(|| ending_token(last_three(&text[a..b]), HEAD_ENDING))
        .flatten();
    (head_pair(Some(word_hash(&text[a..b])), second), ending)
}

/// The head tokens of a head whose first and second words hash to `first` and `second`.
fn head_pair(first: Option<u64>, second: Option<u64>) -> [Option<u64>; 2] {
    let Some(h) = first else {
        return [None; 2];
    };
    [
        Some(token(SALT_HEAD, h)),
        second.map(|h2| token(SALT_HEAD_TWO, h.rotate_left(17) ^ h2)),
    ]
}

/// The last three characters of `word`, lowercased (`'\0'` before a shorter word).
fn last_three(word: &str) -> [char; 3] {
    let mut tail = ['\0'; 3];
    for c in word.chars().flat_map(char::to_lowercase) {
        tail = [tail[1], tail[2], c];
    }
    tail
}

/// Word, pair and position tokens, fed one finished word hash at a time.
#[derive(Default)]
struct WordTokens {
    words: usize,
    prev: Option<u64>,
    first: Option<u64>,
    second: Option<u64>,
}

impl WordTokens {
    fn finish(&mut self, h: u64, emit: &mut impl FnMut(u64)) {
        emit(token(SALT_WORD, h));
        if let Some(p) = self.prev {
            emit(token(SALT_PAIR, p.rotate_left(17) ^ h));
        }
        match self.words {
            0 => {
                emit(token(SALT_FIRST, h));
                self.first = Some(h);
            }
            1 => {
                emit(token(
                    SALT_FIRST_TWO,
                    self.first.unwrap_or(0).rotate_left(17) ^ h,
                ));
                self.second = Some(h);
            }
            _ => {}
        }
        self.words += 1;
        self.prev = Some(h);
    }
}

/// Emits the word tokens of `text`; returns the last three characters of its first word and the
/// hashes of its first two words.
///
/// Bytes, with a fast path for ASCII; other characters are decoded and lowercased in full.
/// Either way a word's hash is FNV-1a over the UTF-8 bytes of its lowercased characters.
fn emit_words(text: &str, emit: &mut impl FnMut(u64)) -> ([char; 3], [Option<u64>; 2]) {
    let mut state = WordTokens::default();
    let mut tail = ['\0'; 3];
    let mut current: Option<u64> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let wide = (b >= 0x80).then(|| {
            text[i..]
                .chars()
                .next()
                .expect("i is on a character boundary")
        });
        let (word_char, step) = match wide {
            None => (b.is_ascii_alphanumeric() || b == b'_' || b == b'\'', 1),
            Some(c) => (is_token_char(c), c.len_utf8()),
        };
        if word_char {
            let mut h = current.unwrap_or(FNV_OFFSET);
            let first_word = state.words == 0;
            let mut push = |lower: char, h: &mut u64| {
                let mut buf = [0u8; 4];
                for byte in lower.encode_utf8(&mut buf).bytes() {
                    *h = (*h ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
                }
                if first_word {
                    tail = [tail[1], tail[2], lower];
                }
            };
            match wide {
                None => push(char::from(b.to_ascii_lowercase()), &mut h),
                Some(c) => c.to_lowercase().for_each(|lc| push(lc, &mut h)),
            }
            current = Some(h);
        } else if let Some(h) = current.take() {
            state.finish(h, emit);
        }
        i += step;
    }
    if let Some(h) = current.take() {
        state.finish(h, emit);
    }
    (tail, [state.first, state.second])
}

/// The ending token of a word whose last three characters are `tail`: `-ing`, `-ed` or `-s`
/// as id `base` + 0, 1 or 2.
fn ending_token(tail: [char; 3], base: u64) -> Option<u64> {
    let ending = if tail == ['i', 'n', 'g'] {
        Some(0)
    } else if tail[1..] == ['e', 'd'] {
        Some(1)
    } else if tail[2] == 's' {
        Some(2)
    } else {
        None
    };
    ending.map(|id| token(SALT_SUFFIX, base + id))
}

/// Shape tokens: capitalised start, final punctuation, code marks, a version number, length.
fn emit_shapes(text: &str, emit: &mut impl FnMut(u64)) {
    let trimmed = text.trim_end();
    let shape = |id: u64| token(SALT_SHAPE, id);
    let start_upper = text
        .trim_start()
        .chars()
        .next()
        .is_some_and(char::is_uppercase);
    emit(shape(if start_upper { 1 } else { 2 }));
    for (id, end) in [(3, '.'), (4, '?'), (5, ':'), (6, ',')] {
        if trimmed.ends_with(end) {
            emit(shape(id));
        }
    }
    for (id, mark) in [(7, "`"), (8, "["), (9, "("), (10, "::")] {
        if text.contains(mark) {
            emit(shape(id));
        }
    }
    if crate::features::v2::has_version_number(text) {
        emit(shape(11));
    }
    let spaced = text.split_whitespace().count() as u64;
    emit(shape(100 + (spaced / 4).min(6)));
}

/// Examples as token ids: each distinct token's hash (`keys`), each document's token ids with
/// its class index and weight, and each token's weighted document frequency.
struct TokenisedCorpus {
    keys: Vec<u64>,
    docs: Vec<(Vec<u32>, usize, f64)>,
    df: Vec<f64>,
}

impl TokenisedCorpus {
    fn of<'a>(examples: impl IntoIterator<Item = (&'a str, Layer, f64)>) -> Result<Self> {
        Self::of_tokens(examples.into_iter().map(|(text, layer, weight)| {
            let mut tokens = Vec::new();
            for_each_token(text, |t| tokens.push(t));
            (tokens, layer.index(), weight)
        }))
    }

    /// Examples given as token lists with a class index (0–3) and a weight.
    fn of_tokens(examples: impl IntoIterator<Item = (Vec<u64>, usize, f64)>) -> Result<Self> {
        let mut index: TokenMap<u32> = TokenMap::default();
        let mut corpus = TokenisedCorpus {
            keys: Vec::new(),
            docs: Vec::new(),
            df: Vec::new(),
        };
        for (tokens, class, weight) in examples {
            if !(weight.is_finite() && weight > 0.0) {
                return Err(Error::invalid(
                    "weight",
                    format!("must be a finite number > 0, got {weight}"),
                ));
            }
            let mut ids = Vec::with_capacity(tokens.len());
            for t in tokens {
                let id = *index.entry(t).or_insert_with(|| {
                    corpus.keys.push(t);
                    corpus.df.push(0.0);
                    (corpus.keys.len() - 1) as u32
                });
                ids.push(id);
            }
            ids.sort_unstable();
            let mut last = None;
            for &id in &ids {
                if last != Some(id) {
                    corpus.df[id as usize] += weight;
                    last = Some(id);
                }
            }
            corpus.docs.push((ids, class, weight));
        }
        Ok(corpus)
    }
}

/// Multinomial logistic regression by AdaGrad over `docs` in a seeded order: token weights
/// (features scaled by 1/√length) and class biases. Token weights and their AdaGrad sums are
/// f32: half the memory traffic of f64, and the stored weights are f32 anyway; biases and
/// scores stay f64. `reg` is each token's L2 share per occurrence. `offsets`, when not empty,
/// holds one fixed score per document and layer added before the softmax: the model then learns
/// a correction of those scores rather than scores of its own.
fn adagrad(
    docs: &[(Vec<u32>, usize, f64)],
    offsets: &[[f64; 4]],
    reg: &[f32],
    epochs: usize,
    seed: u64,
) -> (Vec<[f32; 4]>, [f64; 4]) {
    const RATE: f32 = 0.5;
    // Each token's weights beside its AdaGrad sums, so that the update of a token reads one
    // cache line instead of two far apart: the vocabulary (197,037 tokens in the shipped model)
    // does not fit in cache and a document's tokens are scattered over it, so the loop waits on
    // memory. Adapting a router takes about 40 % less time so (BENCHMARKS.md).
    let mut slots = vec![TokenSlot::default(); reg.len()];
    let (mut bias, mut bias_g2) = ([0.0f64; 4], [0.0f64; 4]);
    let mut order: Vec<usize> = (0..docs.len()).collect();
    let mut rng = crate::rng::SplitMix64(seed);
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        for &d in &order {
            let (ids, class, weight) = &docs[d];
            let x = 1.0 / (ids.len().max(1) as f32).sqrt();
            let mut sum = [0.0f32; 4];
            for &id in ids {
                let wi = &slots[id as usize].w;
                for k in 0..4 {
                    sum[k] += wi[k];
                }
            }
            let offset = offsets.get(d).copied().unwrap_or([0.0; 4]);
            let z: [f64; 4] = std::array::from_fn(|k| offset[k] + bias[k] + f64::from(x * sum[k]));
            let p = softmax(z);
            let g: [f64; 4] =
                std::array::from_fn(|k| weight * (p[k] - f64::from(u8::from(k == *class))));
            for k in 0..4 {
                bias_g2[k] += g[k] * g[k];
                bias[k] -= f64::from(RATE) * g[k] / (bias_g2[k].sqrt() + 1e-8);
            }
            let gx: [f32; 4] = std::array::from_fn(|k| g[k] as f32 * x);
            let weight = *weight as f32;
            for &id in ids {
                let id = id as usize;
                let (TokenSlot { w: wi, g2: gi }, r) = (&mut slots[id], weight * reg[id]);
                for k in 0..4 {
                    let grad = gx[k] + r * wi[k];
                    gi[k] += grad * grad;
                    wi[k] -= RATE * grad / (gi[k].sqrt() + 1e-8);
                }
            }
        }
    }
    (slots.into_iter().map(|slot| slot.w).collect(), bias)
}

/// One token's class weights and their AdaGrad sums of squared gradients, side by side.
#[derive(Debug, Clone, Copy, Default)]
struct TokenSlot {
    w: [f32; 4],
    g2: [f32; 4],
}

/// What one token of [`for_each_token`] stands for, for explanations: a byte range of the text
/// for the word tokens, an id for the shape tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSpan {
    /// A word.
    Word(usize, usize),
    /// Two adjacent words (the range covers both and what lies between).
    Pair(usize, usize),
    /// The first word, as the note's opening.
    First(usize, usize),
    /// The first two words, as the note's opening.
    FirstTwo(usize, usize),
    /// The first word or two after a short label (`"Auth: Updated the…"`); without a label the
    /// same head tokens stand for the opening and are [`TokenSpan::First`] / `FirstTwo`.
    AfterLabel(usize, usize),
    /// A word's ending: the first word's 0 `-ing`, 1 `-ed`, 2 `-s`; the word after a label's
    /// 3 `-ing`, 4 `-ed`, 5 `-s`.
    Ending(u64),
    /// A shape token (see [`for_each_token`]'s ids).
    Shape(u64),
}

/// FNV-1a over the UTF-8 bytes of `word` lowercased: the hash [`for_each_token`] gives a word.
fn word_hash(word: &str) -> u64 {
    let mut h = FNV_OFFSET;
    let mut buf = [0u8; 4];
    for c in word.chars().flat_map(char::to_lowercase) {
        for byte in c.encode_utf8(&mut buf).bytes() {
            h = (h ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
    }
    h
}

/// Every token of `text` with what it stands for: the same hashes, in the same order, as
/// [`for_each_token`] (tested), by a slower path that keeps the words' places. For explanations.
pub(crate) fn spanned_tokens(text: &str) -> Vec<(u64, TokenSpan)> {
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_token_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    let hashes: Vec<u64> = words.iter().map(|&(a, b)| word_hash(&text[a..b])).collect();
    let mut out = Vec::with_capacity(words.len() * 2 + 8);
    for (k, (&(a, b), &h)) in words.iter().zip(&hashes).enumerate() {
        out.push((token(SALT_WORD, h), TokenSpan::Word(a, b)));
        if k > 0 {
            let p = hashes[k - 1];
            let a0 = words[k - 1].0;
            out.push((
                token(SALT_PAIR, p.rotate_left(17) ^ h),
                TokenSpan::Pair(a0, b),
            ));
        }
        match k {
            0 => out.push((token(SALT_FIRST, h), TokenSpan::First(a, b))),
            1 => out.push((
                token(SALT_FIRST_TWO, hashes[0].rotate_left(17) ^ h),
                TokenSpan::FirstTwo(words[0].0, b),
            )),
            _ => {}
        }
    }
    out.extend(head_spans(text));
    let mut shapes = Vec::new();
    for_each_token(text, |t| shapes.push(t));
    // The tokens after the word tokens are the ending and shape tokens, in `for_each_token`'s
    // order; their ids are found by hashing each candidate id.
    for t in shapes.into_iter().skip(out.len()) {
        let span = (0..HEAD_ENDING + 3)
            .find(|&id| token(SALT_SUFFIX, id) == t)
            .map(TokenSpan::Ending)
            .or_else(|| {
                (1..=11)
                    .chain(100..=106)
                    .find(|&id| token(SALT_SHAPE, id) == t)
                    .map(TokenSpan::Shape)
            })
            .expect("every token after the words is an ending or a shape token");
        out.push((t, span));
    }
    out
}

/// The head tokens of `text` (see [`head_tokens`]) with what they stand for: the words after its
/// label, or its opening when it has none.
fn head_spans(text: &str) -> Vec<(u64, TokenSpan)> {
    let head = Head::of(text);
    let tokens = head_tokens(text, &head).0.into_iter().flatten();
    let start = head.words[0].map_or(0, |(a, _)| a);
    let end = |k: usize| head.words[k].map_or(0, |(_, b)| b);
    tokens
        .enumerate()
        .map(|(k, t)| {
            let span = match (head.labelled, k) {
                (true, _) => TokenSpan::AfterLabel(start, end(k)),
                (false, 0) => TokenSpan::First(start, end(k)),
                (false, _) => TokenSpan::FirstTwo(start, end(k)),
            };
            (t, span)
        })
        .collect()
}

/// Token weights in an open-addressing table: keys in one array (256 KiB for 30,000 tokens at
/// most half full, so probes stay in cache), weights in another read only on a hit. Slot key 0
/// marks an empty slot; a token whose hash is 0 has a slot of its own.
#[derive(Debug, Clone, PartialEq)]
struct TokenTable {
    mask: usize,
    keys: Vec<u64>,
    weights: Vec<[f32; 4]>,
    zero: Option<[f32; 4]>,
}

impl TokenTable {
    fn new(entries: impl IntoIterator<Item = (u64, [f32; 4])>) -> Self {
        // Inserted in key order, so equal token sets always get the same layout.
        let mut entries: Vec<(u64, [f32; 4])> = entries.into_iter().collect();
        entries.sort_unstable_by_key(|e| e.0);
        let slots = (entries.len() * 2).next_power_of_two().max(16);
        let mut table = TokenTable {
            mask: slots - 1,
            keys: vec![0; slots],
            weights: vec![[0.0; 4]; slots],
            zero: None,
        };
        for (key, w) in entries {
            if key == 0 {
                table.zero = Some(w);
                continue;
            }
            let mut i = key as usize & table.mask;
            while table.keys[i] != 0 && table.keys[i] != key {
                i = (i + 1) & table.mask;
            }
            table.keys[i] = key;
            table.weights[i] = w;
        }
        table
    }

    /// The slot holding nonzero `key`, if any.
    #[inline]
    fn slot(&self, key: u64) -> Option<usize> {
        let mut i = key as usize & self.mask;
        loop {
            match self.keys[i] {
                k if k == key => return Some(i),
                0 => return None,
                _ => i = (i + 1) & self.mask,
            }
        }
    }

    #[inline]
    fn get(&self, key: u64) -> Option<&[f32; 4]> {
        if key == 0 {
            return self.zero.as_ref();
        }
        self.slot(key).map(|i| &self.weights[i])
    }

    fn get_mut(&mut self, key: u64) -> Option<&mut [f32; 4]> {
        if key == 0 {
            return self.zero.as_mut();
        }
        self.slot(key).map(|i| &mut self.weights[i])
    }

    fn len(&self) -> usize {
        self.keys.iter().filter(|k| **k != 0).count() + usize::from(self.zero.is_some())
    }

    /// Appends the table as it is laid out: its slot count, its zero-hash token if any, then
    /// each occupied slot's index, token and weights in slot order.
    fn write_compact(&self, out: &mut Vec<u8>) {
        out.extend((self.keys.len() as u64).to_le_bytes());
        out.push(u8::from(self.zero.is_some()));
        self.zero
            .unwrap_or_default()
            .iter()
            .for_each(|w| out.extend(w.to_le_bytes()));
        let occupied = self.keys.iter().filter(|k| **k != 0).count();
        out.extend((occupied as u64).to_le_bytes());
        for (i, (key, weights)) in self.keys.iter().zip(&self.weights).enumerate() {
            if *key != 0 {
                out.extend((i as u32).to_le_bytes());
                out.extend(key.to_le_bytes());
                weights.iter().for_each(|w| out.extend(w.to_le_bytes()));
            }
        }
    }

    /// Reads a table written by [`TokenTable::write_compact`] back into the same layout: each
    /// token is written to its slot, in slot order, with no probing (which is what makes it
    /// fast). Checks that the table is at most half full and that every token sits where
    /// probing from its hash finds it.
    fn read_compact(bytes: &mut &[u8]) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidModel {
            reason: format!("compact token table: {reason}"),
        };
        let slots = u64::from_le_bytes(take(bytes)?) as usize;
        if !(16..=1 << 28).contains(&slots) || !slots.is_power_of_two() {
            return Err(invalid(format!(
                "{slots} slots is not a power of two in 16..=2^28"
            )));
        }
        let zero = (take::<1>(bytes)?[0] != 0).then_some(());
        let zero_weights = read_weights(bytes)?;
        let count = u64::from_le_bytes(take(bytes)?) as usize;
        if count * 2 > slots || bytes.len() < count * 28 {
            return Err(invalid(format!(
                "{count} tokens do not fit {slots} slots half full"
            )));
        }
        let mut table = TokenTable {
            mask: slots - 1,
            keys: vec![0; slots],
            weights: vec![[0.0; 4]; slots],
            zero: zero.map(|()| zero_weights),
        };
        let mut runs = Runs::default();
        let (records, rest) = bytes.split_at(count * 28);
        *bytes = rest;
        for record in records.chunks_exact(28) {
            let number = |at: usize| -> [u8; 4] { record[at..at + 4].try_into().expect("4 bytes") };
            let slot = u32::from_le_bytes(number(0)) as usize;
            let key = u64::from_le_bytes(record[4..12].try_into().expect("8 bytes"));
            let weights = [12, 16, 20, 24].map(|at| f32::from_le_bytes(number(at)));
            if key == 0 || slot >= slots || runs.last.is_some_and(|last| slot <= last) {
                return Err(invalid(format!(
                    "token {key} in slot {slot} is out of order"
                )));
            }
            runs.place(slot, key as usize & table.mask).map_err(|()| {
                invalid(format!("token {key} in slot {slot} is not where it hashes"))
            })?;
            table.keys[slot] = key;
            table.weights[slot] = weights;
        }
        runs.finish(slots)
            .map_err(|()| invalid("a token at the start is not where it hashes".into()))?;
        Ok(table)
    }

    /// Every (token, weights), in no particular order.
    fn entries(&self) -> impl Iterator<Item = (u64, [f32; 4])> + '_ {
        let slots = self
            .keys
            .iter()
            .zip(&self.weights)
            .filter(|(k, _)| **k != 0)
            .map(|(k, w)| (*k, *w));
        slots.chain(self.zero.map(|w| (0, w)))
    }
}

/// Four little-endian `f32`s from the front of `bytes`.
fn read_weights(bytes: &mut &[u8]) -> Result<[f32; 4]> {
    let mut weights = [0.0f32; 4];
    for w in &mut weights {
        *w = f32::from_le_bytes(take(bytes)?);
    }
    Ok(weights)
}

/// The runs of occupied slots of a token table read in slot order, to check that each token
/// sits where linear probing from its home slot (its hash's low bits) finds it: within the
/// run it is in, at or after its home. The run that starts at slot 0 may continue the run that
/// ends at the last slot (probing wraps around), so its tokens are checked at the end.
#[derive(Default)]
struct Runs {
    last: Option<usize>,
    start: usize,
    /// `(home, slot)` of the tokens of the run that starts at slot 0.
    first: Vec<(usize, usize)>,
}

impl Runs {
    fn place(&mut self, slot: usize, home: usize) -> std::result::Result<(), ()> {
        if self.last.is_none_or(|last| last + 1 != slot) {
            self.start = slot;
        }
        self.last = Some(slot);
        if self.start == 0 {
            self.first.push((home, slot));
            Ok(())
        } else if (self.start..=slot).contains(&home) {
            Ok(())
        } else {
            Err(())
        }
    }

    fn finish(self, slots: usize) -> std::result::Result<(), ()> {
        let wraps_from = (self.last == Some(slots - 1) && self.start != 0).then_some(self.start);
        let found =
            |&(home, slot): &(usize, usize)| home <= slot || wraps_from.is_some_and(|w| home >= w);
        if self.first.iter().all(found) {
            Ok(())
        } else {
            Err(())
        }
    }
}

/// How a text model's token weights were learned, and so how they combine into scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextLearner {
    /// Multinomial naive Bayes: a score is the log prior plus the log likelihood of every token.
    NaiveBayes,
    /// Multinomial logistic regression on L2-normalised token counts: a score is the bias plus
    /// the token weights' sum divided by √(tokens known). Learns which tokens *tell layers
    /// apart* rather than which are frequent in each, so it is the stronger of the two on short
    /// notes (72.3 % → 73.0 % cross-validated on agent notes in our measurements; see README).
    Logistic,
}

impl TextLearner {
    fn kind(self) -> &'static str {
        match self {
            TextLearner::NaiveBayes => "multinomial_naive_bayes",
            TextLearner::Logistic => "logistic_regression",
        }
    }
}

/// A trained text model: one weight per (token, layer) and one constant per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct TextModel {
    learner: TextLearner,
    /// Naive Bayes smoothing α, or the logistic regression's inverse regularisation C.
    alpha: f64,
    /// Naive Bayes log priors, or the logistic regression's biases.
    log_prior: [f64; 4],
    /// Per known token: naive Bayes log θ, or logistic regression weights.
    log_likelihood: TokenTable,
    /// Whether the table holds a kind-of-text classifier and per-kind token copies.
    kinded: bool,
}

/// The serialised form: tokens sorted by hash, so equal models give equal bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct TextModelJson {
    kind: String,
    alpha: f64,
    log_prior: [f64; 4],
    tokens: Vec<(u64, [f32; 4])>,
}

impl serde::Serialize for TextModel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut tokens: Vec<(u64, [f32; 4])> = self.log_likelihood.entries().collect();
        tokens.sort_unstable_by_key(|t| t.0);
        TextModelJson {
            kind: self.learner.kind().into(),
            alpha: self.alpha,
            log_prior: self.log_prior,
            tokens,
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for TextModel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let j = TextModelJson::deserialize(d)?;
        let learner = TextLearner::of_kind(&j.kind).map_err(serde::de::Error::custom)?;
        Ok(TextModel::assemble(learner, j.alpha, j.log_prior, j.tokens))
    }
}

impl TextLearner {
    /// The learner whose serialised `kind` is `kind`.
    fn of_kind(kind: &str) -> std::result::Result<Self, String> {
        [TextLearner::NaiveBayes, TextLearner::Logistic]
            .into_iter()
            .find(|l| l.kind() == kind)
            .ok_or_else(|| format!("unknown text model kind {kind:?}"))
    }
}

/// The compact form of a text model: its learner, constants and token weights as
/// little-endian numbers, tokens sorted by hash (see [`crate::router::TreeModel::to_compact`]).
impl TextModel {
    fn assemble(
        learner: TextLearner,
        alpha: f64,
        log_prior: [f64; 4],
        tokens: Vec<(u64, [f32; 4])>,
    ) -> Self {
        TextModel {
            learner,
            alpha,
            log_prior,
            log_likelihood: TokenTable::new(tokens),
            kinded: false,
        }
        .with_kind_flag()
    }

    /// Appends the compact form to `out`.
    pub(crate) fn write_compact(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.learner == TextLearner::Logistic));
        out.extend(self.alpha.to_le_bytes());
        self.log_prior
            .iter()
            .for_each(|p| out.extend(p.to_le_bytes()));
        self.log_likelihood.write_compact(out);
    }

    /// Reads a compact form from the front of `bytes`, leaving the rest.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the bytes end early.
    pub(crate) fn read_compact(bytes: &mut &[u8]) -> Result<Self> {
        let learner = match take::<1>(bytes)?[0] {
            0 => TextLearner::NaiveBayes,
            _ => TextLearner::Logistic,
        };
        let alpha = f64::from_le_bytes(take(bytes)?);
        let mut log_prior = [0.0; 4];
        for p in &mut log_prior {
            *p = f64::from_le_bytes(take(bytes)?);
        }
        Ok(TextModel {
            learner,
            alpha,
            log_prior,
            log_likelihood: TokenTable::read_compact(bytes)?,
            kinded: false,
        }
        .with_kind_flag())
    }
}

/// The first `N` bytes of `bytes`, which then start after them.
pub(crate) fn take<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N]> {
    let (head, rest) = bytes
        .split_first_chunk::<N>()
        .ok_or_else(|| Error::InvalidModel {
            reason: "compact model: the bytes end early".into(),
        })?;
    *bytes = rest;
    Ok(*head)
}

impl TextModel {
    /// Fits the model on `(text, layer)` pairs with smoothing `alpha` (> 0), keeping tokens seen
    /// at least `min_count` times (rarer ones carry little evidence and cost memory and lookups).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `alpha` when it is not a finite positive number.
    pub fn fit<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer)>,
        alpha: f64,
        min_count: u32,
    ) -> Result<Self> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(Error::invalid(
                "alpha",
                format!("must be a finite number > 0, got {alpha}"),
            ));
        }
        let mut counts: TokenMap<[u32; 4]> = TokenMap::default();
        let mut docs = [0u32; 4];
        for (text, layer) in examples {
            let c = layer.index();
            docs[c] += 1;
            for_each_token(text, |t| counts.entry(t).or_insert([0; 4])[c] += 1);
        }
        counts.retain(|_, v| v.iter().sum::<u32>() >= min_count);
        let n_docs: u32 = docs.iter().sum();
        let vocab = counts.len() as f64;
        let mut totals = [0u64; 4];
        for v in counts.values() {
            for c in 0..4 {
                totals[c] += u64::from(v[c]);
            }
        }
        let log_prior =
            std::array::from_fn(|c| ((f64::from(docs[c]) + 1.0) / (f64::from(n_docs) + 4.0)).ln());
        let denominators: [f64; 4] =
            std::array::from_fn(|c| (totals[c] as f64 + alpha * vocab).ln());
        let log_likelihood = TokenTable::new(counts.into_iter().map(|(t, v)| {
            (
                t,
                std::array::from_fn(|c| ((f64::from(v[c]) + alpha).ln() - denominators[c]) as f32),
            )
        }));
        Ok(TextModel {
            learner: TextLearner::NaiveBayes,
            alpha,
            log_prior,
            log_likelihood,
            kinded: false,
        })
    }

    /// Fits a multinomial logistic regression on weighted `(text, layer, weight)` examples:
    /// L2-regularised cross-entropy with inverse strength `c` (> 0; larger fits the data more
    /// closely), minimised by `epochs` passes of AdaGrad in a seeded order, so the same examples
    /// and seed always give the same model. The regulariser is spread over the examples a token
    /// occurs in, so every pass applies it once in full.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `c` when it is not a finite positive number, on `epochs` when
    /// it is 0, and on `weight` when a weight is not a finite positive number.
    pub fn fit_logistic<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer, f64)>,
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        Self::fit_logistic_on(TokenisedCorpus::of(examples)?, &[], c, epochs, seed)
    }

    /// Fits a logistic *correction* of another model's scores: like
    /// [`TextModel::fit_logistic`], but each example carries the scores (log-probabilities) the
    /// other model gives it, and the fitted weights and biases are what must be added to them to
    /// fit the labels. Examples the other model already gets right move the weights little, so
    /// a few labels teach what is particular about them. Scores of the result are to be added
    /// to the other model's log-probabilities before a softmax.
    ///
    /// # Errors
    /// As [`TextModel::fit_logistic`], and on `offset` when a score is not finite.
    pub fn fit_correction<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer, [f64; 4])>,
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        let mut offsets = Vec::new();
        let corpus = TokenisedCorpus::of(examples.into_iter().map(|(text, layer, offset)| {
            offsets.push(offset);
            (text, layer, 1.0)
        }))?;
        if offsets.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::invalid("offset", "every score must be finite"));
        }
        Self::fit_logistic_on(corpus, &offsets, c, epochs, seed)
    }

    fn fit_logistic_on(
        corpus: TokenisedCorpus,
        offsets: &[[f64; 4]],
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::invalid(
                "text_c",
                format!("must be a finite number > 0, got {c}"),
            ));
        }
        if epochs == 0 {
            return Err(Error::invalid("text_epochs", "must be at least 1"));
        }
        // Each token's share of the regulariser per occurrence, 1 / (C · its weighted count).
        let reg: Vec<f32> = corpus.df.iter().map(|d| (1.0 / (c * d)) as f32).collect();
        let (w, bias) = adagrad(&corpus.docs, offsets, &reg, epochs, seed);
        Ok(TextModel {
            learner: TextLearner::Logistic,
            alpha: c,
            log_prior: bias,
            log_likelihood: TokenTable::new(corpus.keys.into_iter().zip(w)),
            kinded: false,
        })
    }

    fn with_kind_flag(mut self) -> Self {
        self.kinded = self.log_likelihood.get(KIND_BIAS_KEY).is_some();
        self
    }

    /// Fits a *kind-aware* logistic model on `(text, layer, weight, kind)` examples. The same
    /// words mean different layers in the two kinds of text ("Add retry to the client" is a next
    /// step in an agent's notes and a changelog entry in a crate), so besides one weight per
    /// token and layer shared by both kinds it learns a copy per kind, fitted jointly (each
    /// example sees the shared tokens and its own kind's copies), and a logistic classifier of
    /// the kind over the same tokens. A text is scored with the shared weights plus the two
    /// copies weighted by the classifier's probability that it is a code comment. When either
    /// kind has fewer than [`MIN_PER_KIND`] examples this is [`TextModel::fit_logistic`].
    ///
    /// # Errors
    /// As [`TextModel::fit_logistic`].
    pub fn fit_logistic_kinded<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer, f64, TextKind)>,
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        let examples: Vec<(&str, Layer, f64, TextKind)> = examples.into_iter().collect();
        let code = examples
            .iter()
            .filter(|e| e.3 == TextKind::CodeComment)
            .count();
        if code.min(examples.len() - code) < MIN_PER_KIND {
            let plain = examples
                .iter()
                .map(|&(text, layer, weight, _)| (text, layer, weight));
            return Self::fit_logistic(plain, c, epochs, seed);
        }
        let tokens: Vec<Vec<u64>> = examples
            .iter()
            .map(|e| {
                let mut t = Vec::new();
                for_each_token(e.0, |h| t.push(h));
                t
            })
            .collect();
        // The kind classifier is a two-class logistic regression: class 0 notes, 1 code comments.
        let kind_corpus =
            TokenisedCorpus::of_tokens(examples.iter().zip(&tokens).map(|(e, t)| {
                let ids = t.iter().map(|&h| token(SALT_KIND, h)).collect();
                (ids, e.3 as usize, e.2)
            }))?;
        let kind = Self::fit_logistic_on(kind_corpus, &[], c, epochs, seed)?;
        let layer_corpus =
            TokenisedCorpus::of_tokens(examples.iter().zip(&tokens).map(|(e, t)| {
                let salt = COPY_SALT[e.3 as usize];
                let ids = t.iter().copied().chain(t.iter().map(|&h| token(salt, h)));
                (ids.collect(), e.1.index(), e.2)
            }))?;
        let layers = Self::fit_logistic_on(layer_corpus, &[], c, epochs, seed)?;
        // Stored in the same table: each kind token's log-odds of a code comment, and the bias.
        let bias = (kind.log_prior[1] - kind.log_prior[0]) as f32;
        let kind_entries = kind
            .log_likelihood
            .entries()
            .map(|(k, w)| (k, [w[1] - w[0], 0.0, 0.0, 0.0]))
            .chain(std::iter::once((KIND_BIAS_KEY, [bias, 0.0, 0.0, 0.0])));
        let table = TokenTable::new(layers.log_likelihood.entries().chain(kind_entries));
        Ok(TextModel {
            log_likelihood: table,
            ..layers
        }
        .with_kind_flag())
    }

    /// Moves a kind-aware model's prior log-odds of a code comment by `delta`; other models are
    /// returned as they are.
    pub fn with_kind_log_odds_shift(mut self, delta: f64) -> Self {
        if let Some(w) = self.log_likelihood.get_mut(KIND_BIAS_KEY) {
            w[0] += delta as f32;
        }
        self
    }

    /// Whether the model tells notes from code comments ([`TextModel::fit_logistic_kinded`]).
    pub fn is_kind_aware(&self) -> bool {
        self.kinded
    }

    /// The model's probability that `text` is a code comment rather than a note; `None` when
    /// the model is not kind-aware.
    pub fn code_comment_probability(&self, text: &str) -> Option<f64> {
        let mut sum = ScoreSum::of_kind(None);
        for_each_token(text, |t| sum.add(self, t));
        self.kinded.then(|| sum.code_probability(self))
    }

    /// The regularisation it was fitted with: naive Bayes α, or logistic regression C.
    pub fn regularisation(&self) -> f64 {
        self.alpha
    }

    /// Which learner made the model.
    pub fn learner(&self) -> TextLearner {
        self.learner
    }

    /// How each of `tokens` counts in this model's score of a text of `kind` (when known): what
    /// an explanation weighs each token's pull with, and how a kind-aware model read the text.
    pub(crate) fn token_contributions(
        &self,
        tokens: &[u64],
        kind: Option<TextKind>,
    ) -> Contributions {
        let mut sum = ScoreSum::of_kind(kind);
        tokens.iter().for_each(|&t| sum.add(self, t));
        let shares = sum.copy_shares(self);
        let table = &self.log_likelihood;
        let weights = tokens
            .iter()
            .map(|&t| {
                let copies = if self.kinded {
                    COPY_SALT.map(|salt| table.get(token(salt, t)))
                } else {
                    [None; 2]
                };
                let parts = [
                    (table.get(t), 1.0),
                    (copies[0], shares[0]),
                    (copies[1], shares[1]),
                ];
                parts.iter().any(|(w, _)| w.is_some()).then(|| {
                    std::array::from_fn(|c| {
                        parts
                            .iter()
                            .filter_map(|(w, share)| w.map(|w| share * f64::from(w[c])))
                            .sum()
                    })
                })
            })
            .collect();
        Contributions {
            weights,
            scale: sum.scale(self, shares),
            code_share: self.kinded.then_some(shares[1]),
        }
    }

    /// The four layers' scores for `text` (log-posteriors for naive Bayes, logits for logistic
    /// regression), shifted so the best is 0. `kind` is the text's kind when the caller knows
    /// it: a kind-aware model then reads the text with that kind's weights alone instead of
    /// weighing both by its own guess. Other models ignore it.
    pub fn scores(&self, text: &str, kind: Option<TextKind>) -> [f64; 4] {
        let mut sum = ScoreSum::of_kind(kind);
        for_each_token(text, |t| sum.add(self, t));
        sum.scores(self)
    }

    /// `(self.scores(text, kind), other.scores(text, kind))` from one pass over the text's
    /// tokens: a project's correction is scored this way beside its router's text model.
    pub(crate) fn scores_with(
        &self,
        other: &TextModel,
        text: &str,
        kind: Option<TextKind>,
    ) -> ([f64; 4], [f64; 4]) {
        let (mut mine, mut theirs) = (ScoreSum::of_kind(kind), ScoreSum::of_kind(kind));
        for_each_token(text, |t| {
            mine.add(self, t);
            theirs.add(other, t);
        });
        (mine.scores(self), theirs.scores(other))
    }

    /// Known tokens.
    pub fn vocabulary_size(&self) -> usize {
        self.log_likelihood.len()
    }

    /// Checks the parameters are usable numbers.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if !(self.alpha.is_finite() && self.alpha > 0.0)
            || self.log_prior.iter().any(|p| !p.is_finite())
        {
            return Err("text model has a non-finite or non-positive parameter".into());
        }
        if self
            .log_likelihood
            .entries()
            .any(|(_, w)| w.iter().any(|v| !v.is_finite()))
        {
            return Err("text model has a non-finite token weight".into());
        }
        Ok(())
    }
}

/// How a text's tokens count in a model's score of it ([`TextModel::token_contributions`]).
pub(crate) struct Contributions {
    /// Each token's layer weights as the score uses them (for a kind-aware model, the shared
    /// weight plus each kind's copy by its share); `None` for a token the model does not know.
    pub(crate) weights: Vec<Option<[f64; 4]>>,
    /// The factor the score multiplies their sum by.
    pub(crate) scale: f64,
    /// For a kind-aware model, the share the code-comment copies counted with: 0 or 1 when the
    /// kind was given, the model's probability of a code comment otherwise.
    pub(crate) code_share: Option<f64>,
}

/// A text model's running sum of token weights over one text: the shared weights and, for a
/// kind-aware model, the kind classifier's and each kind's copies; when the text's kind is
/// given, only that kind's copies (the classifier and the other copies would count 0).
#[derive(Default)]
struct ScoreSum {
    given: Option<TextKind>,
    shared: WeightSum,
    kind: WeightSum,
    copies: [WeightSum; 2],
}

/// A sum of token weights and how many tokens were known.
#[derive(Default, Clone, Copy)]
struct WeightSum {
    sum: [f64; 4],
    known: usize,
}

impl WeightSum {
    fn add(&mut self, weights: Option<&[f32; 4]>) {
        if let Some(w) = weights {
            self.known += 1;
            for (s, w) in self.sum.iter_mut().zip(w) {
                *s += f64::from(*w);
            }
        }
    }
}

impl ScoreSum {
    /// An empty sum over a text of `kind`, when known.
    fn of_kind(given: Option<TextKind>) -> Self {
        ScoreSum {
            given,
            ..ScoreSum::default()
        }
    }

    fn add(&mut self, model: &TextModel, t: u64) {
        let table = &model.log_likelihood;
        self.shared.add(table.get(t));
        if !model.kinded {
            return;
        }
        if let Some(kind) = self.given {
            let k = kind as usize;
            self.copies[k].add(table.get(token(COPY_SALT[k], t)));
        } else {
            self.kind.add(table.get(token(SALT_KIND, t)));
            for (copy, salt) in self.copies.iter_mut().zip(COPY_SALT) {
                copy.add(table.get(token(salt, t)));
            }
        }
    }

    /// A kind-aware model's probability that the text is a code comment.
    fn code_probability(&self, model: &TextModel) -> f64 {
        let bias = model
            .log_likelihood
            .get(KIND_BIAS_KEY)
            .map_or(0.0, |w| f64::from(w[0]));
        let z = bias + self.kind.sum[0] / (self.kind.known.max(1) as f64).sqrt();
        1.0 / (1.0 + (-z).exp())
    }

    /// How much each kind's copies count: `[1 - p, p]` for a kind-aware model (p the
    /// probability of a code comment: 0 or 1 when the kind is given, the classifier's
    /// otherwise), none for other models.
    fn copy_shares(&self, model: &TextModel) -> [f64; 2] {
        if model.kinded {
            let p = self
                .given
                .map_or_else(|| self.code_probability(model), TextKind::code_probability);
            [1.0 - p, p]
        } else {
            [0.0; 2]
        }
    }

    /// What the token-weight sum is multiplied by: 1 for naive Bayes, 1/√(tokens known) for
    /// logistic regression, counting a kind's copies by their share.
    fn scale(&self, model: &TextModel, shares: [f64; 2]) -> f64 {
        let copies: f64 = (0..2)
            .map(|k| shares[k] * self.copies[k].known as f64)
            .sum();
        match model.learner {
            TextLearner::NaiveBayes => 1.0,
            TextLearner::Logistic => 1.0 / (self.shared.known as f64 + copies).max(1.0).sqrt(),
        }
    }

    /// The model's scores from the sums, shifted so the best is 0.
    fn scores(&self, model: &TextModel) -> [f64; 4] {
        let shares = self.copy_shares(model);
        let scale = self.scale(model, shares);
        let lp: [f64; 4] = std::array::from_fn(|c| {
            let copies: f64 = (0..2).map(|k| shares[k] * self.copies[k].sum[c]).sum();
            model.log_prior[c] + scale * (self.shared.sum[c] + copies)
        });
        let best = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lp.map(|v| v - best)
    }
}

/// The softmax of four scores.
pub(crate) fn softmax(z: [f64; 4]) -> [f64; 4] {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = z.map(|v| (v - m).exp());
    let s: f64 = e.iter().sum();
    e.map(|v| v / s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_tables_read_back_in_their_layout_and_misplaced_tokens_are_errors() {
        let entries = (1..300u64)
            .map(|k| {
                (
                    k.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    [k as f32, 0.0, 0.0, -1.0],
                )
            })
            .chain([(0, [9.0; 4])]);
        let table = TokenTable::new(entries);
        let mut bytes = Vec::new();
        table.write_compact(&mut bytes);
        let back = TokenTable::read_compact(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, table);
        for cut in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                TokenTable::read_compact(&mut &bytes[..cut]).is_err(),
                "{cut}"
            );
        }
        // A token moved to the empty slot before its home is not where probing finds it.
        let home = (1..table.keys.len())
            .find(|&i| table.keys[i] != 0 && table.keys[i - 1] == 0)
            .unwrap();
        let mut moved = table.clone();
        moved.keys.swap(home - 1, home);
        moved.weights.swap(home - 1, home);
        let mut bytes = Vec::new();
        moved.write_compact(&mut bytes);
        let err = TokenTable::read_compact(&mut bytes.as_slice()).unwrap_err();
        assert!(err.to_string().contains("not where it hashes"), "{err}");
    }

    /// Two notes per layer, told apart by their words.
    const LABELLED: [(&str, Layer); 8] = [
        ("Returns the length", Layer::Semantic),
        ("Returns the name", Layer::Semantic),
        ("Added support for tokio", Layer::Episodic),
        ("Added a builder", Layer::Episodic),
        ("To build, run make", Layer::Procedural),
        ("To test, run cargo test", Layer::Procedural),
        ("maybe we should cache this", Layer::Prospective),
        ("we should remove this", Layer::Prospective),
    ];

    fn tokens(text: &str) -> Vec<u64> {
        let mut v = Vec::new();
        for_each_token(text, |t| v.push(t));
        v
    }

    #[test]
    fn tokens_are_case_insensitive_words_pairs_positions_and_shape() {
        let a = tokens("Returns the value.");
        assert_eq!(
            a.len(),
            3 + 2 + 2 + 2 + 1 + 2 + 1,
            "3 words, 2 pairs, 2 position, 2 head, suffix -s, capital + period, length"
        );
        assert_eq!(
            tokens("returns THE value."),
            tokens("returns the value."),
            "words are lowercased"
        );
        assert_eq!(
            tokens("Implementing it").len(),
            tokens("Implements it").len(),
            "both endings are tokens"
        );
        assert_ne!(tokens("Implementing it"), tokens("Implements it"));
        assert_eq!(
            tokens("Go").len() + 1,
            tokens("Goes").len(),
            "-s ending of a short word"
        );
        assert_ne!(
            tokens("Returns the value."),
            tokens("returns the value."),
            "capitalisation is a shape token"
        );
        assert_eq!(
            tokens("").len(),
            2,
            "an empty text has a lowercase-start and a length token"
        );
        let _ = tokens("émoji 👋🏽 and e\u{301}\u{301}");
    }

    /// Notes where "add … to the client" is a next step and code comments (marked by a path)
    /// where it is a change; `code` of the latter.
    fn two_kinds(code: usize) -> Vec<(String, Layer, f64, TextKind)> {
        let mut rows = Vec::new();
        for i in 0..24 {
            rows.push((
                format!("add item{i} to the client"),
                Layer::Prospective,
                1.0,
                TextKind::Note,
            ));
            rows.push((
                format!("the client keeps item{i}"),
                Layer::Semantic,
                1.0,
                TextKind::Note,
            ));
        }
        for i in 0..code {
            let (text, layer) = if i % 2 == 0 {
                (
                    format!("add item{i} to the client in `net::Pool`"),
                    Layer::Episodic,
                )
            } else {
                (format!("`net::Pool` keeps item{i}"), Layer::Semantic)
            };
            rows.push((text, layer, 1.0, TextKind::CodeComment));
        }
        rows
    }

    fn fit_kinded(rows: &[(String, Layer, f64, TextKind)]) -> TextModel {
        let rows = rows.iter().map(|(t, l, w, k)| (t.as_str(), *l, *w, *k));
        TextModel::fit_logistic_kinded(rows, 10.0, 20, 1).unwrap()
    }

    #[test]
    fn a_kind_aware_model_tells_the_kinds_apart_and_reads_each_its_own_way() {
        let m = fit_kinded(&two_kinds(48));
        assert!(m.is_kind_aware());
        let p = |t: &str| m.code_comment_probability(t).unwrap();
        assert!(
            p("add retries to the client in `net::Pool`") > 0.8,
            "{}",
            p("x")
        );
        assert!(p("add retries to the client") < 0.2);
        let best_as = |t: &str, kind| m.scores(t, kind).iter().position(|v| *v == 0.0).unwrap();
        let (note, code) = (
            "add retries to the client",
            "add retries to the client in `net::Pool`",
        );
        assert_eq!(best_as(note, None), Layer::Prospective.index());
        assert_eq!(best_as(code, None), Layer::Episodic.index());
        // A kind the caller knows overrides the classifier's guess.
        let (as_note, as_code) = (Some(TextKind::Note), Some(TextKind::CodeComment));
        assert_eq!(best_as(note, as_code), Layer::Episodic.index());
        assert_eq!(best_as(code, as_note), Layer::Prospective.index());
        for (text, kind, p) in [(note, as_note, 0.0), (code, as_code, 1.0)] {
            let (got, want) = (m.scores(text, kind), scores_by_hand(&m, text, p));
            assert!(
                got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-9),
                "{got:?} {want:?}"
            );
        }
        // "add" opening a note points to a next step, opening a code comment to a change.
        let add = token(SALT_FIRST, word_hash("add"));
        let copy = |k: usize| *m.log_likelihood.get(token(COPY_SALT[k], add)).unwrap();
        let (e, p) = (Layer::Episodic.index(), Layer::Prospective.index());
        assert!(copy(0)[p] > copy(0)[e] && copy(1)[e] > copy(1)[p]);
        assert_eq!(
            fit_kinded(&two_kinds(48)),
            m,
            "same data and seed, same model"
        );
        let back: TextModel = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert!(back.is_kind_aware());

        // The weights an explanation reads add up to the scores, the kind known or not.
        for text in [code, "the client keeps it"] {
            for kind in [None, as_note, as_code] {
                let Contributions { weights, scale, .. } =
                    m.token_contributions(&tokens(text), kind);
                let lp: [f64; 4] = std::array::from_fn(|c| {
                    let sum: f64 = weights.iter().flatten().map(|w| w[c]).sum();
                    m.log_prior[c] + scale * sum
                });
                let best = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                for (a, b) in lp.iter().zip(m.scores(text, kind)) {
                    assert!((a - best - b).abs() < 1e-9, "{text} {kind:?}: {lp:?}");
                }
            }
        }
    }

    /// A kind-aware model's scores of `text` computed by hand with the code-comment share `p`:
    /// shared weights plus each kind's copies by their share, over √(tokens counted).
    fn scores_by_hand(m: &TextModel, text: &str, p: f64) -> [f64; 4] {
        let (mut sum, mut known) = ([0.0f64; 4], 0.0);
        for t in tokens(text) {
            for (key, share) in [
                (t, 1.0),
                (token(COPY_SALT[0], t), 1.0 - p),
                (token(COPY_SALT[1], t), p),
            ] {
                if let Some(w) = m.log_likelihood.get(key) {
                    known += share;
                    (0..4).for_each(|c| sum[c] += share * f64::from(w[c]));
                }
            }
        }
        let lp: [f64; 4] = std::array::from_fn(|c| m.log_prior[c] + sum[c] / known.max(1.0).sqrt());
        let best = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lp.map(|v| v - best)
    }

    #[test]
    fn too_few_of_a_kind_fit_the_plain_model() {
        let rows = two_kinds(MIN_PER_KIND - 1);
        let kinded = fit_kinded(&rows);
        assert!(!kinded.is_kind_aware());
        let text = "add retries to the client";
        assert_eq!(
            kinded.scores(text, Some(TextKind::CodeComment)),
            kinded.scores(text, None),
            "a model without kinds ignores the kind it is told"
        );
        assert_eq!(kinded.code_comment_probability("add it"), None);
        let plain = rows.iter().map(|(t, l, w, _)| (t.as_str(), *l, *w));
        assert_eq!(kinded, TextModel::fit_logistic(plain, 10.0, 20, 1).unwrap());
        assert!(fit_kinded(&two_kinds(MIN_PER_KIND)).is_kind_aware());
    }

    #[test]
    fn logistic_regression_learns_words_deterministically_and_honours_weights() {
        let data = LABELLED;
        let fit = |w: f64, seed| {
            TextModel::fit_logistic(data.iter().map(|(t, l)| (*t, *l, w)), 10.0, 20, seed).unwrap()
        };
        let m = fit(1.0, 1);
        assert_eq!(m.learner(), TextLearner::Logistic);
        let best =
            |m: &TextModel, t: &str| m.scores(t, None).iter().position(|v| *v == 0.0).unwrap();
        assert_eq!(best(&m, "Returns the size"), Layer::Semantic.index());
        assert_eq!(best(&m, "Added serde support"), Layer::Episodic.index());
        assert_eq!(
            best(&m, "To deploy, run the script"),
            Layer::Procedural.index()
        );
        assert_eq!(
            best(&m, "we should rename this"),
            Layer::Prospective.index()
        );
        assert_eq!(fit(1.0, 1), m, "same data and seed, same model");
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("logistic_regression"));
        let back: TextModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);

        // One example weighted up outvotes two: "run" means prospective here.
        let mut weighted: Vec<(&str, Layer, f64)> =
            data.iter().map(|(t, l)| (*t, *l, 1.0)).collect();
        weighted.push(("run the benchmarks again", Layer::Prospective, 30.0));
        let w = TextModel::fit_logistic(weighted, 10.0, 20, 1).unwrap();
        assert_eq!(best(&w, "run make"), Layer::Prospective.index());
        assert_eq!(best(&m, "run make"), Layer::Procedural.index());

        for (c, epochs, weight, field) in [
            (0.0, 5, 1.0, "text_c"),
            (f64::NAN, 5, 1.0, "text_c"),
            (1.0, 0, 1.0, "text_epochs"),
            (1.0, 5, -1.0, "weight"),
            (1.0, 5, f64::INFINITY, "weight"),
        ] {
            let err =
                TextModel::fit_logistic(data.iter().map(|(t, l)| (*t, *l, weight)), c, epochs, 1)
                    .unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { field: f, .. } if f == field),
                "{err}"
            );
        }
    }

    #[test]
    fn a_correction_learns_what_the_offsets_get_wrong() {
        // The other model calls everything semantic; this project's "zork" notes are procedures.
        let offset = [0.0, -3.0, -3.0, -3.0];
        let labels: Vec<(String, Layer)> = (0..20)
            .map(|i| match i % 2 {
                0 => (
                    format!("The zork {i} holds the deploy steps"),
                    Layer::Procedural,
                ),
                _ => (format!("The table {i} holds the rows"), Layer::Semantic),
            })
            .collect();
        let rows = || labels.iter().map(|(t, l)| (t.as_str(), *l, offset));
        let c = TextModel::fit_correction(rows(), 10.0, 3, 1).unwrap();
        let best = |text: &str| {
            let s = c.scores(text, None);
            let z: [f64; 4] = std::array::from_fn(|k| offset[k] + s[k]);
            let p = softmax(z);
            (0..4).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap()
        };
        assert_eq!(
            best("The zork 99 holds the deploy steps"),
            Layer::Procedural.index()
        );
        assert_eq!(best("The table 99 holds the rows"), Layer::Semantic.index());
        assert_eq!(TextModel::fit_correction(rows(), 10.0, 3, 1).unwrap(), c);
        // Scored beside another model in one pass, each gets its own scores.
        let other = TextModel::fit(LABELLED.iter().map(|(t, l)| (*t, *l)), 0.5, 1).unwrap();
        for text in ["The zork 7 holds", "Returns the value", ""] {
            assert_eq!(
                other.scores_with(&c, text, None),
                (other.scores(text, None), c.scores(text, None))
            );
        }
        let err = TextModel::fit_correction(
            [("a note", Layer::Semantic, [0.0, f64::NAN, 0.0, 0.0])],
            10.0,
            3,
            1,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "offset",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn spanned_tokens_are_the_same_tokens_in_the_same_order() {
        for text in [
            "Returns the value.",
            "Next: add caching to `search` (see [docs]) in 1.2?",
            "  Switched the base image to debian:bookworm  ",
            "émoji 👋🏽 and e\u{301}\u{301} ÀÉÎ Straße",
            "",
            "one",
            "Run `make seed` after a reset, then Foo::bar,",
            "Responsive Header Layout: Updated the header",
            "Deploy — running `make`",
            "Fix: ",
            "1.5 Verify the flow - end to end",
        ] {
            let spanned: Vec<u64> = spanned_tokens(text).iter().map(|t| t.0).collect();
            assert_eq!(spanned, tokens(text), "{text:?}");
        }
        let spans = spanned_tokens("Remember to rotate");
        assert!(
            spans.contains(&(spans[3].0, TokenSpan::Pair(0, 11))),
            "{spans:?}"
        );
    }

    #[test]
    fn the_head_is_what_follows_a_short_label() {
        fn head(text: &str) -> (bool, Vec<&str>) {
            let h = Head::of(text);
            let words = h.words.iter().flatten().map(|&(a, b)| &text[a..b]);
            (h.labelled, words.collect())
        }
        let label = "Responsive Header Layout: Updated the header";
        assert_eq!(head(label), (true, vec!["Updated", "the"]));
        assert_eq!(head("Auth — uses JWT"), (true, vec!["uses", "JWT"]));
        assert_eq!(head("Cache - flushed"), (true, vec!["flushed"]));
        // The first separator counts, and only after one to five words.
        assert_eq!(head("Why: see: below"), (true, vec!["see", "below"]));
        assert_eq!(
            head("one two three four five six: x"),
            (false, vec!["one", "two"])
        );
        assert_eq!(head(": leading colon"), (false, vec!["leading", "colon"]));
        // No space after the colon: a path or a port, not a label.
        assert_eq!(
            head("debian:bookworm base"),
            (false, vec!["debian", "bookworm"])
        );
        assert_eq!(head("Fix: "), (true, vec![]));
        assert_eq!(head("`make` seed"), (false, vec!["make", "seed"]));

        // A labelled note gets the head tokens and its head word's ending; the same words
        // without the label are the opening instead.
        let spans = spanned_tokens(label);
        let after = spans
            .iter()
            .filter(|(_, s)| matches!(s, TokenSpan::AfterLabel(..)))
            .count();
        assert_eq!(after, 2, "{spans:?}");
        assert!(spans
            .iter()
            .any(|(_, s)| *s == TokenSpan::Ending(HEAD_ENDING + 1)));
        let plain = spanned_tokens("Updated the header");
        assert!(!plain
            .iter()
            .any(|(_, s)| matches!(s, TokenSpan::AfterLabel(..) | TokenSpan::Ending(3..))));
        assert!(plain.iter().any(|(_, s)| *s == TokenSpan::Ending(1)));
    }

    #[test]
    fn learns_which_words_mean_which_layer() {
        let data = LABELLED;
        let m = TextModel::fit(data.iter().map(|(t, l)| (*t, *l)), 0.5, 1).unwrap();
        let best = |t: &str| m.scores(t, None).iter().position(|v| *v == 0.0).unwrap();
        assert_eq!(best("Returns the size"), Layer::Semantic.index());
        assert_eq!(best("Added serde support"), Layer::Episodic.index());
        assert_eq!(best("To deploy, run the script"), Layer::Procedural.index());
        assert_eq!(best("we should rename this"), Layer::Prospective.index());
        let json = serde_json::to_string(&m).unwrap();
        let back: TextModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert!(TextModel::fit(data.iter().map(|(t, l)| (*t, *l)), 0.0, 1).is_err());
        let pruned = TextModel::fit(data.iter().map(|(t, l)| (*t, *l)), 0.5, 2).unwrap();
        assert!(pruned.vocabulary_size() < m.vocabulary_size());
        assert!(pruned.vocabulary_size() > 0);
    }

    #[test]
    fn the_token_table_finds_colliding_keys_and_only_its_own() {
        // 16 slots at least: keys 1, 17, 33 share a home slot and probe past each other.
        let keys = [1u64, 17, 33, 0, 5];
        let mut table = TokenTable::new(keys.iter().map(|&k| (k, [k as f32; 4])));
        assert_eq!(table.len(), keys.len());
        for k in keys {
            assert_eq!(table.get(k), Some(&[k as f32; 4]), "key {k}");
        }
        for missing in [49u64, 2, 16] {
            assert_eq!(table.get(missing), None, "key {missing}");
            assert!(table.get_mut(missing).is_none());
        }
        table.get_mut(33).unwrap()[2] = -1.0;
        table.get_mut(0).unwrap()[0] = 7.0;
        assert_eq!(table.get(33), Some(&[33.0, 33.0, -1.0, 33.0]));
        assert_eq!(table.get(17), Some(&[17.0; 4]));
        assert_eq!(table.get(0), Some(&[7.0, 0.0, 0.0, 0.0]));
    }
}
