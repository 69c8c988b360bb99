//! Measures recall on conversations in the LoCoMo format (Maharana et al., 2024): how often the
//! turn that answers a question comes back first, in the top 5 and in the top 10.
//!
//! ```text
//! cargo run --release --example recall_eval -- --data FILE.json [--data FILE2.json ...]
//!     [--database-url URL] [--json] [--k1 X] [--b X] [--neighbour-words X]
//!     [--neighbour-share X] [--speaker-boost X] [--date-boost X] [--when-boost X]
//!     [--usefulness-weight X] [--recency-weight X] [--candidates N]
//! ```
//!
//! Each conversation is stored the way an agent stores one: a project per conversation; for each
//! session in order and each turn in it, `working_memory().add(p, NewItem::new(text)
//! .speaker(speaker).session("session_N").occurred_at(session date + turn index minutes))`, and
//! `consolidate_pending(p, 1000)` after every 50 turns. Then every question of categories 1-4
//! with evidence is `recall(p, question, 10)`; a hit is a returned memory whose content is the
//! text of an evidence turn.
//!
//! Printed: `recall_at_1`, `recall_at_5`, `recall_at_10`, `mrr_at_10`, `p50_ms` and `p99_ms`
//! (one recall), `ingest_turns_per_s` (adds and consolidations), and the counts. With `--json`
//! exactly one JSON object on stdout. The ranking flags override [`RecallParams`] for
//! experiments; the defaults are the engine's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use athena_memory::recall::month_number;
use athena_memory::time::{days_from_civil, Millis};
use athena_memory::{Config, Engine, NewItem, RecallParams};
use serde_json::{json, Value};

/// Turns added between two `consolidate_pending` calls.
const CONSOLIDATE_EVERY: usize = 50;

struct Args {
    data: Vec<PathBuf>,
    url: Option<String>,
    json: bool,
    params: RecallParams,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: Vec::new(),
        url: None,
        json: false,
        params: RecallParams::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let p = &mut args.params;
        match flag.as_str() {
            "--data" => args.data.push(PathBuf::from(value()?)),
            "--database-url" => args.url = Some(value()?),
            "--json" => args.json = true,
            "--k1" => p.k1 = number(&flag, &value()?)?,
            "--b" => p.b = number(&flag, &value()?)?,
            "--neighbour-words" => p.neighbour_words = number(&flag, &value()?)?,
            "--neighbour-share" => p.neighbour_share = number(&flag, &value()?)?,
            "--speaker-boost" => p.speaker_boost = number(&flag, &value()?)?,
            "--date-boost" => p.date_boost = number(&flag, &value()?)?,
            "--when-boost" => p.when_boost = number(&flag, &value()?)?,
            "--usefulness-weight" => p.usefulness_weight = number(&flag, &value()?)?,
            "--recency-weight" => p.recency_weight = number(&flag, &value()?)?,
            "--candidates" => p.candidates = number::<usize>(&flag, &value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.data.is_empty() {
        return Err("--data FILE.json is required".into());
    }
    Ok(args)
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{flag}: {e}"))
}

/// Parses LoCoMo's session times, "1:56 pm on 8 May, 2023", as UTC.
fn parse_session_time(text: &str) -> Option<Millis> {
    let (clock, date) = text.split_once(" on ")?;
    let (hm, half) = clock.trim().split_once(' ')?;
    let (h, m) = hm.split_once(':')?;
    let mut hour: i64 = h.parse().ok()?;
    let minute: i64 = m.parse().ok()?;
    match half.to_ascii_lowercase().as_str() {
        "pm" if hour < 12 => hour += 12,
        "am" if hour == 12 => hour = 0,
        _ => {}
    }
    let date = date.replace(',', "");
    let mut parts = date.split_whitespace();
    let day: i64 = parts.next()?.parse().ok()?;
    let month = month_number(parts.next()?)?;
    let year: i64 = parts.next()?.parse().ok()?;
    let days = days_from_civil(year, month, day as u32);
    Some(((days * 24 + hour) * 60 + minute) * 60_000)
}

/// One conversation's turns, in order: (session name, time, speaker, dia_id, text).
type Turn = (String, Millis, String, String, String);

fn turns_of(conversation: &Value) -> Vec<Turn> {
    let mut sessions: Vec<(u32, &str)> = conversation
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| {
            let n = k.strip_prefix("session_")?.parse().ok()?;
            Some((n, k.as_str()))
        })
        .collect();
    sessions.sort_unstable();
    let mut out = Vec::new();
    for (n, name) in sessions {
        let date = conversation[format!("session_{n}_date_time")]
            .as_str()
            .and_then(parse_session_time)
            .unwrap_or(0);
        for (i, turn) in conversation[name]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let text = turn["text"].as_str().unwrap_or_default();
            if text.trim().is_empty() {
                continue;
            }
            out.push((
                name.to_owned(),
                date + i as i64 * 60_000,
                turn["speaker"].as_str().unwrap_or("unknown").to_owned(),
                turn["dia_id"].as_str().unwrap_or_default().to_owned(),
                text.to_owned(),
            ));
        }
    }
    out
}

/// The questions of categories 1-4 with evidence: (question, evidence dia_ids).
fn questions_of(sample: &Value) -> Vec<(String, Vec<String>)> {
    sample["qa"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|q| (1..=4).contains(&q["category"].as_i64().unwrap_or(0)))
        .filter_map(|q| {
            let evidence: Vec<String> = q["evidence"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .flat_map(|e| e.split(';'))
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect();
            let question = q["question"].as_str()?.to_owned();
            (!evidence.is_empty()).then_some((question, evidence))
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    questions: usize,
    at1: usize,
    at5: usize,
    at10: usize,
    reciprocal: f64,
    latencies_ms: Vec<f64>,
    turns: usize,
    ingest_s: f64,
}

async fn evaluate(engine: &Engine, path: &PathBuf, tally: &mut Tally) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let samples: Vec<Value> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for (n, sample) in samples.iter().enumerate() {
        let id = sample["sample_id"]
            .as_str()
            .map_or(n.to_string(), str::to_owned);
        let project = engine
            .projects()
            .get_or_create(&format!("/locomo/{}/{id}", path.display()), None)
            .await
            .map_err(|e| e.to_string())?
            .id;
        let turns = turns_of(&sample["conversation"]);
        let texts: HashMap<&str, &str> =
            turns.iter().map(|t| (t.3.as_str(), t.4.as_str())).collect();
        let started = Instant::now();
        let wm = engine.working_memory();
        for (i, (session, at, speaker, _, text)) in turns.iter().enumerate() {
            let item = NewItem::new(text.as_str())
                .speaker(speaker.as_str())
                .session(session.as_str())
                .occurred_at(*at);
            wm.add(project, item).await.map_err(|e| e.to_string())?;
            if (i + 1) % CONSOLIDATE_EVERY == 0 {
                engine
                    .consolidate_pending(project, 1000)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        tally.ingest_s += started.elapsed().as_secs_f64();
        tally.turns += turns.len();
        for (question, evidence) in questions_of(sample) {
            let wanted: Vec<&str> = evidence
                .iter()
                .filter_map(|e| texts.get(e.as_str()).copied())
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let started = Instant::now();
            let hits = engine
                .recall(project, &question, 10)
                .await
                .map_err(|e| format!("{question:?}: {e}"))?;
            tally
                .latencies_ms
                .push(started.elapsed().as_secs_f64() * 1000.0);
            let rank = hits
                .iter()
                .position(|h| wanted.contains(&h.content.as_str()));
            if rank.is_none_or(|r| r >= 5) && std::env::var_os("RECALL_EVAL_MISSES").is_some() {
                eprintln!("MISS {question:?}\n  want {wanted:?}");
                for h in hits.iter().take(3) {
                    eprintln!("  got  {:?}: {:?}", h.speaker, h.content);
                }
            }
            tally.questions += 1;
            if let Some(r) = rank {
                tally.at1 += usize::from(r < 1);
                tally.at5 += usize::from(r < 5);
                tally.at10 += 1;
                tally.reciprocal += 1.0 / (r as f64 + 1.0);
            }
        }
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("recall_eval: {e}");
        std::process::exit(2);
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("recall_eval.db").display()));
    let config = Config::builder(&url)
        .recall(args.params.clone())
        .build()
        .unwrap_or_else(|e| {
            eprintln!("recall_eval: {e}");
            std::process::exit(2);
        });
    let engine = Engine::with_config(config)
        .await
        .expect("open the database");
    let mut tally = Tally::default();
    for path in &args.data {
        if let Err(e) = evaluate(&engine, path, &mut tally).await {
            eprintln!("recall_eval: {e}");
            std::process::exit(1);
        }
    }
    engine.close().await;
    tally.latencies_ms.sort_by(f64::total_cmp);
    let q = tally.questions.max(1) as f64;
    let report = json!({
        "questions": tally.questions,
        "turns": tally.turns,
        "recall_at_1": tally.at1 as f64 / q,
        "recall_at_5": tally.at5 as f64 / q,
        "recall_at_10": tally.at10 as f64 / q,
        "mrr_at_10": tally.reciprocal / q,
        "p50_ms": percentile(&tally.latencies_ms, 0.5),
        "p99_ms": percentile(&tally.latencies_ms, 0.99),
        "ingest_turns_per_s": tally.turns as f64 / tally.ingest_s.max(1e-9),
    });
    if args.json {
        println!("{report}");
    } else {
        for (key, value) in report.as_object().into_iter().flatten() {
            println!("{key:>20}  {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_times_parse_as_utc() {
        // 2023-05-08 13:56 UTC = 1683554160 s.
        assert_eq!(
            parse_session_time("1:56 pm on 8 May, 2023"),
            Some(1_683_554_160_000)
        );
        assert_eq!(
            parse_session_time("12:05 am on 1 January, 2024"),
            Some(1_704_067_500_000)
        );
        assert_eq!(parse_session_time("yesterday"), None);
    }

    #[test]
    fn turns_follow_session_numbers_and_questions_need_evidence() {
        let conversation = json!({
            "session_10": [{"speaker": "B", "dia_id": "D10:1", "text": "late"}],
            "session_2": [{"speaker": "A", "dia_id": "D2:1", "text": "early"},
                          {"speaker": "B", "dia_id": "D2:2", "text": "reply"}],
            "session_2_date_time": "1:00 am on 1 January, 1970",
        });
        let turns = turns_of(&conversation);
        let order: Vec<&str> = turns.iter().map(|t| t.4.as_str()).collect();
        assert_eq!(order, ["early", "reply", "late"]);
        assert_eq!((turns[0].1, turns[1].1), (3_600_000, 3_660_000));
        let sample = json!({"qa": [
            {"question": "q1", "category": 1, "evidence": ["D2:1; D2:2"]},
            {"question": "q5", "category": 5, "evidence": ["D2:1"]},
            {"question": "q0", "category": 2, "evidence": []},
        ]});
        assert_eq!(
            questions_of(&sample),
            vec![("q1".to_owned(), vec!["D2:1".to_owned(), "D2:2".to_owned()])]
        );
    }
}
