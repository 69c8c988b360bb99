//! The token table: token weights in an open-addressing table, and its compact form.

use std::sync::Arc;

use crate::error::{Error, Result};

/// Token weights in an open-addressing table: keys in one array (256 KiB for 30,000 tokens at
/// most half full, so probes stay in cache), weights in another read only on a hit. Slot key 0
/// marks an empty slot; a token whose hash is 0 has a slot of its own.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TokenTable {
    pub(super) mask: usize,
    pub(super) keys: Vec<u64>,
    pub(super) weights: Vec<[f32; 4]>,
    pub(super) zero: Option<[f32; 4]>,
}

impl TokenTable {
    pub(super) fn new(entries: impl IntoIterator<Item = (u64, [f32; 4])>) -> Self {
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
    pub(super) fn slot(&self, key: u64) -> Option<usize> {
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
    pub(super) fn get(&self, key: u64) -> Option<&[f32; 4]> {
        if key == 0 {
            return self.zero.as_ref();
        }
        self.slot(key).map(|i| &self.weights[i])
    }

    pub(super) fn len(&self) -> usize {
        self.keys.iter().filter(|k| **k != 0).count() + usize::from(self.zero.is_some())
    }

    /// Appends the table as it is laid out: its slot count, its zero-hash token if any, then
    /// each occupied slot's index, token and weights in slot order.
    pub(super) fn write_compact(&self, out: &mut Vec<u8>) {
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
    pub(super) fn read_compact(bytes: &mut &[u8]) -> Result<Self> {
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
    pub(super) fn entries(&self) -> impl Iterator<Item = (u64, [f32; 4])> + '_ {
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
pub(super) fn read_weights(bytes: &mut &[u8]) -> Result<[f32; 4]> {
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
pub(super) struct Runs {
    pub(super) last: Option<usize>,
    pub(super) start: usize,
    /// `(home, slot)` of the tokens of the run that starts at slot 0.
    pub(super) first: Vec<(usize, usize)>,
}

impl Runs {
    pub(super) fn place(&mut self, slot: usize, home: usize) -> std::result::Result<(), ()> {
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

    pub(super) fn finish(self, slots: usize) -> std::result::Result<(), ()> {
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

/// A text model's token weights: a table that may be shared with other models (a routing
/// base's, behind an `Arc`), and the tokens whose weights differ from it (a project's
/// adaptation), which are looked up first. A model of its own has no changes.
#[derive(Debug, Clone)]
pub(super) struct Weights {
    shared: Arc<TokenTable>,
    changes: Option<Changes>,
}

/// The tokens a model changed, and a bit filter over them that most tokens (unchanged ones)
/// fail at one load and one bit test, so reading through the changes costs little more than
/// reading the shared table alone: 16 bits per change, so about 6 % of unchanged tokens pass it
/// and are probed for.
#[derive(Debug, Clone, PartialEq)]
struct Changes {
    table: TokenTable,
    filter: Vec<u64>,
    /// `64 - log2(filter bits)`: a key's filter bit is its top bits.
    shift: u32,
}

impl Changes {
    fn new(entries: super::TokenMap<[f32; 4]>) -> Self {
        let bits = (entries.len() * 16).next_power_of_two().max(64);
        let shift = 64 - bits.trailing_zeros();
        let mut filter = vec![0u64; bits / 64];
        for &key in entries.keys() {
            let bit = (key >> shift) as usize;
            filter[bit / 64] |= 1 << (bit % 64);
        }
        Changes {
            table: TokenTable::new(entries),
            filter,
            shift,
        }
    }

    #[inline]
    fn get(&self, key: u64) -> Option<&[f32; 4]> {
        let bit = (key >> self.shift) as usize;
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        self.table.get(key)
    }
}

impl Weights {
    /// Weights held in `table` alone.
    pub(super) fn own(table: TokenTable) -> Self {
        Weights {
            shared: Arc::new(table),
            changes: None,
        }
    }

    /// These weights with `changes` over them: the same shared table (not copied), and the
    /// changed tokens, this model's earlier changes included, in a small table of their own.
    pub(super) fn changed(&self, changes: impl IntoIterator<Item = (u64, [f32; 4])>) -> Self {
        let mut merged: super::TokenMap<[f32; 4]> = self.changes().collect();
        merged.extend(changes);
        Weights {
            shared: Arc::clone(&self.shared),
            changes: Some(Changes::new(merged)),
        }
    }

    /// The weights of `key`: its change, else the shared table's.
    #[inline]
    pub(super) fn get(&self, key: u64) -> Option<&[f32; 4]> {
        if let Some(w) = self.changes.as_ref().and_then(|c| c.get(key)) {
            return Some(w);
        }
        self.shared.get(key)
    }

    /// The changed tokens and their weights, in no particular order.
    pub(super) fn changes(&self) -> impl Iterator<Item = (u64, [f32; 4])> + '_ {
        self.changes.iter().flat_map(|c| c.table.entries())
    }

    /// Whether `other` reads the same shared table (so their differences are their changes).
    pub(super) fn shares_table_with(&self, other: &Weights) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Every token and its weights as [`Weights::get`] reads them, in no particular order.
    pub(super) fn entries(&self) -> impl Iterator<Item = (u64, [f32; 4])> + '_ {
        let changed = |key: u64| self.changes.as_ref().is_some_and(|c| c.get(key).is_some());
        let unchanged = self.shared.entries().filter(move |(k, _)| !changed(*k));
        unchanged.chain(self.changes())
    }

    /// The weights a check of a model made of these needs to read: the changes when there are
    /// any (the shared table belongs to the model they were made from, checked when it was),
    /// otherwise every token's.
    pub(super) fn unchecked(&self) -> Box<dyn Iterator<Item = (u64, [f32; 4])> + '_> {
        match &self.changes {
            Some(changes) => Box::new(changes.table.entries()),
            None => Box::new(self.shared.entries()),
        }
    }

    /// How many tokens have weights.
    pub(super) fn len(&self) -> usize {
        let added = self
            .changes()
            .filter(|(k, _)| self.shared.get(*k).is_none());
        self.shared.len() + added.count()
    }

    /// The table [`Weights::get`] reads, as one table: the shared one when nothing changed.
    pub(super) fn merged(&self) -> std::borrow::Cow<'_, TokenTable> {
        match &self.changes {
            None => std::borrow::Cow::Borrowed(&self.shared),
            Some(_) => std::borrow::Cow::Owned(TokenTable::new(self.entries())),
        }
    }
}

/// Equal when every token has the same weights, however they are held.
impl PartialEq for Weights {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.shared, &other.shared) && self.changes == other.changes {
            return true;
        }
        self.len() == other.len() && self.entries().all(|(k, w)| other.get(k) == Some(&w))
    }
}
