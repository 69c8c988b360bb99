//! The recall index: `recall_docs` (one row per recallable memory, wherever it lives),
//! `recall_postings`, `recall_terms` and `recall_stats`. Every statement that reads or writes
//! them is here; the terms come from [`crate::recall::analyze`], the ranking from
//! [`crate::recall`].
//!
//! The index is written in the same transaction as the memory it describes (an add, a layer
//! insert, a forget), so a committed memory is recallable at once, also after a crash, and by
//! every process sharing the database: there is no second store to catch up. The analysis is
//! Rust's; the database's triggers (migration 0003) only explode the term list into postings
//! and counts, and move a consolidated item's row to the layer row that names it as its source.
//!
//! Why the posting lists live in the database rather than in FTS5 or `tsvector`: one analyzer
//! for both backends (the same terms, so the same ranking), and a bound on a query's work at a
//! million memories: FTS5's `OR` query scores every row that shares a word, here a term reads at
//! most [`RecallParams::postings_per_term`] postings, newest first, through the primary key.

use std::collections::{HashMap, HashSet};

use crate::config::Backend;
use crate::db::{fetch_rows, on_pool, on_tx, Database, PoolExt, WriteTx};
use crate::error::{check_text, Error, Result};
use crate::ids::ProjectId;
use crate::recall::{
    index_terms, query_terms, rank, CandidateDoc, Place, Posting, Query, QueryTerms, RecallHit,
    RecallParams, TermPostings, TextScores,
};
use crate::time::{now_ms, Millis};

/// Longest query accepted, in characters.
pub(crate) const MAX_QUERY_CHARS: usize = 10_000;

/// A memory to index.
#[derive(Debug, Clone)]
pub(crate) struct NewDoc<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) place: Place,
    pub(crate) ref_id: i64,
    pub(crate) content: &'a str,
    pub(crate) speaker: Option<&'a str>,
    pub(crate) session: Option<&'a str>,
    pub(crate) occurred_at: Millis,
    pub(crate) now: Millis,
}

impl<'a> NewDoc<'a> {
    /// A memory stored directly in a layer now, with no speaker and no session.
    pub(crate) fn direct(
        project_id: ProjectId,
        place: Place,
        ref_id: i64,
        content: &'a str,
        speaker: Option<&'a str>,
        now: Millis,
    ) -> Self {
        NewDoc {
            project_id,
            place,
            ref_id,
            content,
            speaker,
            session: None,
            occurred_at: now,
            now,
        }
    }
}

/// Indexes memories (one or many, of one or several projects) inside `tx`: a `recall_docs` row
/// each, linked to the memory indexed before it in its session, holding the analyzer's terms;
/// the database's triggers write the postings and the counts from them (one statement a memory).
pub(crate) async fn index(tx: &mut WriteTx, docs: &[NewDoc<'_>]) -> Result<()> {
    const DOC: &str = "INSERT INTO recall_docs
         (project_id, place, ref_id, content, speaker, session, occurred_at, length, terms, created_at, prev_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 (SELECT MAX(id) FROM recall_docs WHERE project_id = $1 AND session = $6))";
    for doc in docs {
        let terms = index_terms(doc.content);
        let list: Vec<(&str, u32)> = terms.counts.iter().map(|(t, n)| (t.as_str(), *n)).collect();
        let list = serde_json::to_string(&list).expect("terms serialise");
        on_tx!(tx, |conn| sqlx::query(DOC)
            .bind(doc.project_id)
            .bind(doc.place.as_str())
            .bind(doc.ref_id)
            .bind(doc.content)
            .bind(doc.speaker)
            .bind(doc.session)
            .bind(doc.occurred_at)
            .bind(i64::from(terms.length))
            .bind(&list)
            .bind(doc.now)
            .execute(conn)
            .await
            .map(|_| ())?);
    }
    Ok(())
}

/// Removes the memories `ref_ids` of `place` from the index (forgotten, superseded or deleted):
/// their rows, and through the database's triggers their postings and their share of the counts.
pub(crate) async fn unindex(
    tx: &mut WriteTx,
    project_id: ProjectId,
    place: Place,
    ref_ids: &[i64],
) -> Result<()> {
    const DOC: &str =
        "DELETE FROM recall_docs WHERE project_id = $1 AND place = $2 AND ref_id = $3";
    for ref_id in ref_ids {
        on_tx!(tx, |conn| sqlx::query(DOC)
            .bind(project_id)
            .bind(place.as_str())
            .bind(ref_id)
            .execute(conn)
            .await
            .map(|_| ())?);
    }
    Ok(())
}

/// The columns of a [`CandidateDoc`], with usefulness from the semantic layer.
macro_rules! candidate_select {
    () => {
        "SELECT d.id, d.prev_id, d.place, d.ref_id, d.content, d.speaker, d.session, d.occurred_at, d.created_at,
                COALESCE(s.usefulness, 0.0) AS usefulness, d.length
         FROM recall_docs d LEFT JOIN semantic_memories s ON d.place = 'semantic' AND s.id = d.ref_id
         WHERE d.project_id = $1 AND "
    };
}

/// Reads of the recall index.
#[derive(Debug, Clone)]
pub(crate) struct RecallIndex {
    db: Database,
}

impl RecallIndex {
    /// The index over `db`.
    pub(crate) fn new(db: Database) -> Self {
        RecallIndex { db }
    }

    /// The `k` best memories of `project_id` for `query`, among `places` (all when empty).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a query that is empty, over [`MAX_QUERY_CHARS`] characters,
    /// holds a NUL or no word at all, or `k` outside 1..=1000.
    pub(crate) async fn search(
        &self,
        project_id: ProjectId,
        query: &str,
        k: usize,
        places: &[Place],
        params: &RecallParams,
    ) -> Result<Vec<RecallHit>> {
        check_text("query", query, MAX_QUERY_CHARS)?;
        if !(1..=1000).contains(&k) {
            return Err(Error::invalid(
                "k",
                format!("must be within 1..=1000, got {k}"),
            ));
        }
        let now = now_ms();
        let terms = match query_terms(query) {
            QueryTerms::Terms(terms) => terms,
            QueryTerms::OnlyStopWords => {
                let docs = self.recent(project_id, places, k).await?;
                let none = TextScores::new(Vec::new(), 1.0, params);
                return Ok(rank(docs, &none, &Query::default(), places, now, k, params));
            }
            QueryTerms::NoWords => {
                return Err(Error::invalid(
                    "query",
                    "must contain at least one word (a letter or a digit)",
                ))
            }
        };
        let corpus = self.corpus(project_id, &terms).await?;
        let mut staged = corpus.staged;
        let mut lists = Vec::new();
        for term in &terms {
            let mut postings = staged.remove(term).unwrap_or_default();
            let stored_df = corpus.df.get(term).copied().unwrap_or(0);
            let df = stored_df + postings.len() as i64;
            if df == 0 {
                continue;
            }
            if stored_df > 0 {
                let stored = self.postings(project_id, term, params.postings_per_term);
                postings.extend(stored.await?);
            }
            postings.sort_unstable_by_key(|p| std::cmp::Reverse(p.doc));
            lists.push(TermPostings {
                idf: crate::recall::idf(corpus.docs, df),
                postings,
            });
        }
        let scores = TextScores::new(lists, corpus.avg_length, params);
        let candidates = scores.best(params.candidates);
        let docs = self.with_neighbours(project_id, &candidates).await?;
        let query = Query::new(query, terms, now);
        Ok(rank(docs, &scores, &query, places, now, k, params))
    }

    /// The project's memory count and average length, the document frequency of each of
    /// `terms` in its posting lists, and the postings of `terms` in its staged memories (at most
    /// 63; see the migration), read from their rows.
    async fn corpus(&self, project_id: ProjectId, terms: &[String]) -> Result<Corpus> {
        macro_rules! stats {
            ($staged_postings:literal) => {
                concat!(
                    "SELECT COALESCE((SELECT docs FROM recall_stats WHERE project_id = $1), 0)
                          + (SELECT COUNT(*) FROM recall_docs WHERE project_id = $1 AND staged),
                        CAST(COALESCE((SELECT terms FROM recall_stats WHERE project_id = $1), 0)
                          + COALESCE((SELECT SUM(length) FROM recall_docs WHERE project_id = $1 AND staged), 0) AS BIGINT),
                        ",
                    $staged_postings
                )
            };
        }
        const STATS_SQLITE: &str = stats!(
            "(SELECT group_concat(d.id || ',' || json_extract(t.value, '$[1]') || ',' || d.length || ',' || json_extract(t.value, '$[0]'), ';')
              FROM recall_docs d, json_each(d.terms) t
              WHERE d.project_id = $1 AND d.staged AND json_extract(t.value, '$[0]') IN (SELECT value FROM json_each($2)))"
        );
        const STATS_POSTGRES: &str = stats!(
            "(SELECT string_agg(d.id || ',' || (t->>1) || ',' || d.length || ',' || (t->>0), ';')
              FROM recall_docs d, jsonb_array_elements(d.terms::jsonb) t
              WHERE d.project_id = $1 AND d.staged AND t->>0 = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb))))"
        );
        const DF_SQLITE: &str = "SELECT term, df FROM recall_terms
             WHERE project_id = $1 AND df > 0 AND term IN (SELECT value FROM json_each($2))";
        const DF_POSTGRES: &str = "SELECT term, df FROM recall_terms
             WHERE project_id = $1 AND df > 0 AND term = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))";
        let terms_json = serde_json::to_string(terms).expect("strings serialise");
        let (stats, df): (StatsRow, Vec<(String, i64)>) = on_pool!(self.db, |pool| {
            let (stats, df) = match pool.backend() {
                Backend::Sqlite => (STATS_SQLITE, DF_SQLITE),
                Backend::Postgres => (STATS_POSTGRES, DF_POSTGRES),
            };
            let stats = sqlx::query_as(stats)
                .bind(project_id)
                .bind(&terms_json)
                .fetch_one(pool)
                .await?;
            let df = sqlx::query_as(df)
                .bind(project_id)
                .bind(&terms_json)
                .fetch_all(pool)
                .await?;
            (stats, df)
        });
        Corpus::read(stats, df)
    }

    /// The `limit` most recent postings of `term`, newest first.
    ///
    /// The database concatenates them into one text (`doc,tf,length;...`) parsed here: one row
    /// per term instead of thousands, which at a few thousand postings is most of a query's
    /// time through the driver.
    async fn postings(
        &self,
        project_id: ProjectId,
        term: &str,
        limit: usize,
    ) -> Result<Vec<Posting>> {
        macro_rules! newest {
            () => {
                "(SELECT CAST(doc_id AS TEXT) || ',' || CAST(tf AS TEXT) || ',' || CAST(length AS TEXT) AS p
                  FROM recall_postings WHERE project_id = $1 AND term = $2 ORDER BY doc_id DESC LIMIT $3) AS newest"
            };
        }
        const SQLITE: &str = concat!("SELECT group_concat(p, ';') FROM ", newest!());
        const POSTGRES: &str = concat!("SELECT string_agg(p, ';') FROM ", newest!());
        let sql = match self.db.backend() {
            Backend::Sqlite => SQLITE,
            Backend::Postgres => POSTGRES,
        };
        let joined: Option<String> = on_pool!(self.db, |pool| sqlx::query_scalar(sql)
            .bind(project_id)
            .bind(term)
            .bind(limit as i64)
            .fetch_one(pool)
            .await?);
        parse_postings(joined.as_deref().unwrap_or(""))
    }

    /// The memories `ids`, the memory after each in its session, and the one before each.
    async fn with_neighbours(
        &self,
        project_id: ProjectId,
        ids: &[i64],
    ) -> Result<Vec<CandidateDoc>> {
        const BY_ID_SQLITE: &str = concat!(
            candidate_select!(),
            "d.id IN (SELECT value FROM json_each($2))"
        );
        const NEXT_SQLITE: &str = concat!(
            candidate_select!(),
            "d.prev_id IN (SELECT value FROM json_each($2))"
        );
        const BY_ID_POSTGRES: &str = concat!(
            candidate_select!(),
            "d.id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)::bigint))"
        );
        const NEXT_POSTGRES: &str = concat!(
            candidate_select!(),
            "d.prev_id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)::bigint))"
        );
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (by_id, next) = match self.db.backend() {
            Backend::Sqlite => (BY_ID_SQLITE, NEXT_SQLITE),
            Backend::Postgres => (BY_ID_POSTGRES, NEXT_POSTGRES),
        };
        let mut docs = self.docs(by_id, project_id, ids).await?;
        docs.extend(self.docs(next, project_id, ids).await?);
        let have: HashSet<i64> = docs.iter().map(|d| d.id).collect();
        let mut before: Vec<i64> = docs
            .iter()
            .filter_map(|d| d.prev_id)
            .filter(|p| !have.contains(p))
            .collect();
        before.sort_unstable();
        before.dedup();
        docs.extend(self.docs(by_id, project_id, &before).await?);
        let mut seen = HashSet::new();
        docs.retain(|d| seen.insert(d.id));
        Ok(docs)
    }

    /// Runs one of the candidate queries over `ids`.
    async fn docs(
        &self,
        sql: &'static str,
        project_id: ProjectId,
        ids: &[i64],
    ) -> Result<Vec<CandidateDoc>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(ids).expect("ids serialise");
        Ok(fetch_rows!(
            self.db,
            CandidateDoc,
            sql,
            fetch_all,
            project_id,
            &ids
        ))
    }

    /// The project's `k` most recently indexed memories among `places` (all when empty).
    async fn recent(
        &self,
        project_id: ProjectId,
        places: &[Place],
        k: usize,
    ) -> Result<Vec<CandidateDoc>> {
        const SQL: &str = concat!(candidate_select!(), "TRUE ORDER BY d.id DESC LIMIT $2");
        const IN_PLACES_SQLITE: &str = concat!(
            candidate_select!(),
            "d.place IN (SELECT value FROM json_each($3)) ORDER BY d.id DESC LIMIT $2"
        );
        const IN_PLACES_POSTGRES: &str = concat!(
            candidate_select!(),
            "d.place = ANY(ARRAY(SELECT jsonb_array_elements_text($3::jsonb))) ORDER BY d.id DESC LIMIT $2"
        );
        if places.is_empty() {
            return Ok(fetch_rows!(
                self.db,
                CandidateDoc,
                SQL,
                fetch_all,
                project_id,
                k as i64
            ));
        }
        let sql = match self.db.backend() {
            Backend::Sqlite => IN_PLACES_SQLITE,
            Backend::Postgres => IN_PLACES_POSTGRES,
        };
        let places = serde_json::to_string(places).expect("places serialise");
        Ok(fetch_rows!(
            self.db,
            CandidateDoc,
            sql,
            fetch_all,
            project_id,
            k as i64,
            &places
        ))
    }

    /// The terms stored for memory `ref_id` of `place`, in term order, with their counts: what
    /// the analyzer wrote, as the database holds it (the row's terms while it is staged, its
    /// postings once folded).
    pub(crate) async fn stored_terms(
        &self,
        project_id: ProjectId,
        place: Place,
        ref_id: i64,
    ) -> Result<Vec<(String, i64)>> {
        macro_rules! union {
            ($staged:literal) => {
                concat!(
                    $staged,
                    " WHERE d.project_id = $1 AND d.place = $2 AND d.ref_id = $3 AND d.staged
                     UNION ALL
                     SELECT p.term, p.tf FROM recall_postings p
                     JOIN recall_docs d ON d.id = p.doc_id AND d.project_id = p.project_id
                     WHERE d.project_id = $1 AND d.place = $2 AND d.ref_id = $3 AND NOT d.staged
                     ORDER BY 1"
                )
            };
        }
        const SQLITE: &str = union!("SELECT json_extract(t.value, '$[0]'), json_extract(t.value, '$[1]') FROM recall_docs d, json_each(d.terms) t");
        const POSTGRES: &str = union!("SELECT t->>0, (t->>1)::bigint FROM recall_docs d, jsonb_array_elements(d.terms::jsonb) t");
        let sql = match self.db.backend() {
            Backend::Sqlite => SQLITE,
            Backend::Postgres => POSTGRES,
        };
        Ok(fetch_rows!(
            self.db,
            (String, i64),
            sql,
            fetch_all,
            project_id,
            place.as_str(),
            ref_id
        ))
    }
}

/// The project's memory and term counts, and its staged postings of the query's terms.
type StatsRow = (i64, i64, Option<String>);

/// What [`RecallIndex::corpus`] reads for a query.
struct Corpus {
    /// Memories in the project (BM25's N).
    docs: i64,
    /// Their average length in terms.
    avg_length: f64,
    /// Document frequency of each query term in the posting lists.
    df: HashMap<String, i64>,
    /// Postings of each query term in the staged memories.
    staged: HashMap<String, Vec<Posting>>,
}

impl Corpus {
    /// The corpus from the rows [`RecallIndex::corpus`] read.
    fn read((docs, length, staged): StatsRow, df: Vec<(String, i64)>) -> Result<Self> {
        let mut by_term: HashMap<String, Vec<Posting>> = HashMap::new();
        for (term, posting) in parse_staged_postings(staged.as_deref().unwrap_or(""))? {
            by_term.entry(term).or_default().push(posting);
        }
        Ok(Corpus {
            docs,
            avg_length: if docs > 0 {
                length as f64 / docs as f64
            } else {
                1.0
            },
            df: df.into_iter().collect(),
            staged: by_term,
        })
    }
}

/// Parses `doc,tf,length;...` as [`RecallIndex::postings`] reads it.
fn parse_postings(joined: &str) -> Result<Vec<Posting>> {
    split_postings(joined, "recall_postings")
        .map(|p| p.map(|(posting, _)| posting))
        .collect()
}

/// Parses `doc,tf,length,term;...` as [`RecallIndex::corpus`] reads staged memories.
fn parse_staged_postings(joined: &str) -> Result<Vec<(String, Posting)>> {
    split_postings(joined, "recall_docs")
        .map(|p| match p? {
            (posting, Some(term)) => Ok((term.to_owned(), posting)),
            (_, None) => Err(corrupt_list("recall_docs", joined)),
        })
        .collect()
}

/// The postings of a `;`-separated list of `doc,tf,length[,rest]`, each with its rest.
fn split_postings<'a>(
    joined: &'a str,
    table: &'static str,
) -> impl Iterator<Item = Result<(Posting, Option<&'a str>)>> + 'a {
    joined.split(';').filter(|p| !p.is_empty()).map(move |p| {
        let mut it = p.splitn(4, ',');
        let mut number = || it.next().and_then(|n| n.parse::<i64>().ok());
        match (number(), number(), number()) {
            (Some(doc), Some(tf), Some(length)) => Ok((
                Posting {
                    doc,
                    tf: tf as f64,
                    length,
                },
                it.next(),
            )),
            _ => Err(corrupt_list(table, joined)),
        }
    })
}

/// The error for a posting list that does not parse.
fn corrupt_list(table: &'static str, joined: &str) -> Error {
    Error::invalid(table, format!("unreadable posting list {joined:.80}"))
}

/// Indexes every memory stored before the index existed, once, when the migration asked for it
/// (`recall_backfill`); a no-op afterwards. One transaction: the flag is cleared with the rows
/// it asked for.
pub(crate) async fn backfill(db: &Database) -> Result<()> {
    const PENDING: &str = "SELECT COUNT(*) FROM recall_backfill";
    type Row = (
        i64,
        ProjectId,
        String,
        Option<String>,
        Option<String>,
        Option<Millis>,
        Millis,
    );
    const SOURCES: [(Place, &str); 5] = [
        (Place::WorkingMemory, "SELECT id, project_id, content, speaker, session, occurred_at, created_at FROM working_memory ORDER BY id"),
        (Place::Semantic, "SELECT id, project_id, content, NULL, NULL, NULL, created_at FROM semantic_memories WHERE superseded_by IS NULL ORDER BY id"),
        (Place::Episodic, "SELECT id, project_id, content, NULL, session_id, occurred_at, created_at FROM episodic_events ORDER BY id"),
        (Place::Procedural, "SELECT id, project_id, name || ' ' || template, NULL, NULL, NULL, created_at FROM procedures ORDER BY id"),
        (Place::Prospective, "SELECT id, project_id, content, NULL, NULL, NULL, created_at FROM prospective_tasks ORDER BY id"),
    ];
    let pending: i64 = on_pool!(db, |pool| sqlx::query_scalar(PENDING)
        .fetch_one(pool)
        .await?);
    if pending == 0 {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    for (place, sql) in SOURCES {
        let rows: Vec<Row> = on_tx!(&mut tx, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        let docs: Vec<NewDoc<'_>> = rows
            .iter()
            .map(|r| NewDoc {
                project_id: r.1,
                place,
                ref_id: r.0,
                content: &r.2,
                speaker: r.3.as_deref(),
                session: r.4.as_deref(),
                occurred_at: r.5.unwrap_or(r.6),
                now: r.6,
            })
            .collect();
        index(&mut tx, &docs).await?;
    }
    on_tx!(&mut tx, |conn| sqlx::query("DELETE FROM recall_backfill")
        .execute(conn)
        .await
        .map(|_| ())?);
    tx.commit().await?;
    tracing::info!("recall index built for the memories stored before it");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_lists_parse_and_corruption_is_an_error() {
        let parsed = parse_postings("9,2,14;3,1,7").unwrap();
        assert_eq!(
            parsed,
            vec![
                Posting {
                    doc: 9,
                    tf: 2.0,
                    length: 14
                },
                Posting {
                    doc: 3,
                    tf: 1.0,
                    length: 7
                }
            ]
        );
        assert!(parse_postings("").unwrap().is_empty());
        assert!(parse_postings("9,2").is_err());
        assert!(parse_postings("9,x,1").is_err());
    }

    #[test]
    fn staged_postings_parse_with_their_terms_and_corruption_is_an_error() {
        let parsed = parse_staged_postings("12,1,5,kubernet;13,2,9,ingress").unwrap();
        assert_eq!(parsed[0].0, "kubernet");
        assert_eq!(
            (parsed[1].0.as_str(), parsed[1].1.doc, parsed[1].1.tf),
            ("ingress", 13, 2.0)
        );
        assert!(parse_staged_postings("").unwrap().is_empty());
        assert!(parse_staged_postings("12,1,5").is_err(), "no term");
        assert!(parse_staged_postings("12,1,x,kubernet").is_err());
    }
}
