//! Tokens: one pass over a text emits the 64-bit hash of every word, word pair, opening,
//! head and shape token, and for explanations, what each stands for.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::verbs::is_base_verb;
use crate::features::is_word_char;

/// Keys are already well-mixed 64-bit hashes: hash them as themselves.
#[derive(Default)]
pub(super) struct IdentityHasher(u64);

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

pub(super) type TokenMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

pub(super) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub(super) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) const SALT_WORD: u64 = 0x01;
pub(super) const SALT_PAIR: u64 = 0x02;
pub(super) const SALT_FIRST: u64 = 0x03;
pub(super) const SALT_FIRST_TWO: u64 = 0x04;
pub(super) const SALT_SHAPE: u64 = 0x05;
pub(super) const SALT_SUFFIX: u64 = 0x06;
pub(super) const SALT_HEAD: u64 = 0x07;
pub(super) const SALT_HEAD_TWO: u64 = 0x08;
/// A token's weight in a kind-aware model's classifier of the kind of text.
pub(super) const SALT_KIND: u64 = 0x10;
/// A token's layer weights in a kind-aware model, copied per kind: notes, code comments.
pub(super) const COPY_SALT: [u64; 2] = [0x11, 0x12];

/// Where a kind-aware model keeps its kind classifier's bias (a key no token hashes to in
/// practice: a 64-bit hash of its own salt).
pub(super) const KIND_BIAS_KEY: u64 = 0x13 ^ 0x9E37_79B9_7F4A_7C15;

pub(super) fn token(salt: u64, h: u64) -> u64 {
    mix(h ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A token's characters: a keyword's word characters, plus `'` so that "don't" is one token.
pub(super) fn is_token_char(c: char) -> bool {
    is_word_char(c) || c == '\''
}

/// Calls `emit` with every token hash of `text` (repeats included).
pub fn for_each_token(text: &str, mut emit: impl FnMut(u64)) {
    let (first_word_tail, opening) = emit_words(text, &mut emit);
    // Without a label the head is the opening, whose words are already hashed.
    let (head_word, head, head_ending) = match Head::label_end(text) {
        Some(end) => head_tokens(text, &Head::at(text, Some(end))),
        None => (opening[0], head_pair(opening[0], opening[1]), None),
    };
    head.into_iter().flatten().for_each(&mut emit);
    ending_token(first_word_tail, 0)
        .into_iter()
        .for_each(&mut emit);
    head_ending.into_iter().for_each(&mut emit);
    emit_shapes(text, head_word, &mut emit);
}

/// Ending token ids of a head word after a label are the first word's ids plus this.
pub(super) const HEAD_ENDING: u64 = 3;

/// Where a note's *head* is: the first two words after a short label ("Auth layer: Updated the
/// header…" → "updated", "updated the"), or the first two words when there is no label. Notes
/// in lists often open with a label, and what follows it says what kind of note it is.
pub(super) struct Head {
    /// Whether a label came first.
    pub(super) labelled: bool,
    /// Byte ranges of the first and second head word.
    pub(super) words: [Option<(usize, usize)>; 2],
}

impl Head {
    /// Most words a label has.
    const LABEL_WORDS: usize = 5;

    /// The byte offset after the label's separator, when `text` opens with a label: one to
    /// [`Self::LABEL_WORDS`] words, then `": "`, `" — "`, `" – "` or `" - "`. One pass that stops
    /// after the sixth word, so long texts cost no more than short ones.
    pub(super) fn label_end(text: &str) -> Option<usize> {
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

    pub(super) fn of(text: &str) -> Head {
        Self::at(text, Self::label_end(text))
    }

    /// The head of `text` whose label ends at `label_end` (see [`Head::label_end`]).
    pub(super) fn at(text: &str, label_end: Option<usize>) -> Head {
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

/// The head word's hash; the head tokens, the head's first word and its first two words; and
/// the head word's ending token when it follows a label. Not generic, so the word loop it sits
/// beside stays small.
#[inline(never)]
pub(super) fn head_tokens(text: &str, head: &Head) -> (Option<u64>, [Option<u64>; 2], Option<u64>) {
    let Some((a, b)) = head.words[0] else {
        return (None, [None; 2], None);
    };
    let first = word_hash(&text[a..b]);
    let second = head.words[1].map(|(c, d)| word_hash(&text[c..d]));
    let ending = head
        .labelled
        .then(|| ending_token(last_three(&text[a..b]), HEAD_ENDING))
        .flatten();
    (Some(first), head_pair(Some(first), second), ending)
}

/// The head tokens of a head whose first and second words hash to `first` and `second`.
pub(super) fn head_pair(first: Option<u64>, second: Option<u64>) -> [Option<u64>; 2] {
    let Some(h) = first else {
        return [None; 2];
    };
    [
        Some(token(SALT_HEAD, h)),
        second.map(|h2| token(SALT_HEAD_TWO, h.rotate_left(17) ^ h2)),
    ]
}

/// The last three characters of `word`, lowercased (`'\0'` before a shorter word).
pub(super) fn last_three(word: &str) -> [char; 3] {
    let mut tail = ['\0'; 3];
    for c in word.chars().flat_map(char::to_lowercase) {
        tail = [tail[1], tail[2], c];
    }
    tail
}

/// Word, pair and position tokens, fed one finished word hash at a time.
#[derive(Default)]
pub(super) struct WordTokens {
    pub(super) words: usize,
    pub(super) prev: Option<u64>,
    pub(super) first: Option<u64>,
    pub(super) second: Option<u64>,
}

impl WordTokens {
    pub(super) fn finish(&mut self, h: u64, emit: &mut impl FnMut(u64)) {
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
pub(super) fn emit_words(text: &str, emit: &mut impl FnMut(u64)) -> ([char; 3], [Option<u64>; 2]) {
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
pub(super) fn ending_token(tail: [char; 3], base: u64) -> Option<u64> {
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

/// Id of the shape token of a head that is a verb in its base form ([`is_base_verb`]).
pub(super) const SHAPE_IMPERATIVE: u64 = 12;

/// Shape tokens: capitalised start, final punctuation, code marks, a version number, a head
/// word (hashed, see [`Head`]) that is a verb in its base form, length.
pub(super) fn emit_shapes(text: &str, head_word: Option<u64>, emit: &mut impl FnMut(u64)) {
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
    if head_word.is_some_and(is_base_verb) {
        emit(shape(SHAPE_IMPERATIVE));
    }
    let spaced = text.split_whitespace().count() as u64;
    emit(shape(100 + (spaced / 4).min(6)));
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
pub(super) fn word_hash(word: &str) -> u64 {
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
                (1..=SHAPE_IMPERATIVE)
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
pub(super) fn head_spans(text: &str) -> Vec<(u64, TokenSpan)> {
    let head = Head::of(text);
    let tokens = head_tokens(text, &head).1.into_iter().flatten();
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
