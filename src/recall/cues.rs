//! What a query says about time: a date it names ("in June", "on 13 October, 2023", "July
//! 2023"), a span it names relative to when it is asked ("yesterday", "last week", "three days
//! ago") and whether it asks when something happened. Pure; UTC throughout.

use crate::time::{civil_date, days_from_civil, Millis};

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month (1..=12) an English month name names, in any case ("May", "october").
pub fn month_number(name: &str) -> Option<u32> {
    let lower = name.to_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

/// Words that place a memory in time ("yesterday", "last Friday", "two weeks ago").
const TIME_WORDS: [&str; 24] = [
    "yesterday",
    "today",
    "tonight",
    "tomorrow",
    "ago",
    "last",
    "week",
    "weekend",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "morning",
    "evening",
    "recently",
    "since",
];

/// A date named in a query: a month, with the year and day when they are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateCue {
    /// 1..=12.
    pub month: u32,
    /// The year, when the query gives one next to the month.
    pub year: Option<i64>,
    /// The day of the month, when the query gives one next to the month.
    pub day: Option<u32>,
}

/// The dates a query names. A month name counts when it is a month for sure: any month but
/// "May" in any case, and "May" only capitalised and not as the first word ("May I ..."). A
/// number beside it is its day (1..=31) or its year (1000..=9999).
pub fn date_cues(query: &str) -> Vec<DateCue> {
    let words: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let number = |i: Option<usize>| {
        i.and_then(|i| words.get(i))
            .and_then(|w| w.parse::<i64>().ok())
    };
    let mut cues = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(month) = month_number(word) else {
            continue;
        };
        if month == 5 && (i == 0 || *word != "May") {
            continue;
        }
        let around = [i.checked_sub(1), Some(i + 1), Some(i + 2)];
        let day = around
            .iter()
            .take(2)
            .filter_map(|j| number(*j))
            .find(|n| (1..=31).contains(n))
            .map(|n| n as u32);
        let year = around
            .iter()
            .filter_map(|j| number(*j))
            .find(|n| (1000..=9999).contains(n));
        cues.push(DateCue { month, year, day });
    }
    cues
}

impl DateCue {
    /// Whether `at` falls in the named month (of the named year, when given), and within a day
    /// of the named day when one is given.
    pub fn matches(&self, at: Millis) -> bool {
        let (year, month, day) = civil_date(at);
        if month != self.month || self.year.is_some_and(|y| y != year) {
            return false;
        }
        match self.day {
            None => true,
            Some(d) => {
                let named = days_from_civil(year, self.month, d);
                (days_from_civil(year, month, day) - named).abs() <= 1
            }
        }
    }
}

const DAY: Millis = 86_400_000;

/// A span of time a query names relative to when it is asked: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSpan {
    /// First instant of the span.
    pub from: Millis,
    /// First instant after it.
    pub to: Millis,
}

impl TimeSpan {
    /// Whether `at` falls within the span.
    pub fn contains(&self, at: Millis) -> bool {
        (self.from..self.to).contains(&at)
    }
}

/// The spans a query names relative to `now`, in calendar terms (UTC, weeks from Monday):
/// "today", "tonight", "this morning" (today so far); "yesterday", "last night"; "this week",
/// "last week", "last weekend"; "this month", "last month"; "this year", "last year"; and
/// "N days / weeks / months / years ago" (N in digits, or a word from "a" to "twelve"), the
/// day named give or take one, a week give or take three days, a month give or take fifteen, a
/// year give or take half of one.
///
/// ```
/// use athena_memory::recall::relative_spans;
/// let now = 1_683_554_160_000; // Monday 8 May 2023, 13:56 UTC
/// let yesterday = relative_spans("What did we deploy yesterday?", now)[0];
/// assert!(yesterday.contains(now - 86_400_000) && !yesterday.contains(now));
/// assert!(relative_spans("What did we deploy?", now).is_empty());
/// ```
pub fn relative_spans(query: &str, now: Millis) -> Vec<TimeSpan> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let today = now.div_euclid(DAY) * DAY;
    let span = |from: Millis, to: Millis| TimeSpan { from, to };
    let mut spans = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str);
        let named = match (word.as_str(), next) {
            ("today" | "tonight", _) => Some(span(today, now + 1)),
            ("this", Some("morning" | "afternoon" | "evening")) => Some(span(today, now + 1)),
            ("yesterday", _) | ("last", Some("night")) => Some(span(today - DAY, today)),
            ("this" | "last", Some(unit)) => calendar_span(unit, word == "last", now),
            ("ago", _) if i >= 2 => ago_span(&words[i - 2], &words[i - 1], now),
            _ => None,
        };
        spans.extend(named);
    }
    spans
}

/// "this" or "last" (`last`) week, weekend, month or year around `now`.
fn calendar_span(unit: &str, last: bool, now: Millis) -> Option<TimeSpan> {
    let today = now.div_euclid(DAY);
    let (year, month, _) = civil_date(now);
    let month_start = |y: i64, m: u32| days_from_civil(y, m, 1) * DAY;
    let (prev_year, prev_month) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    // 1 January 1970 was a Thursday: days since a Monday.
    let monday = (today - (today + 3).rem_euclid(7)) * DAY;
    let (from, to) = match (unit, last) {
        ("week", false) => (monday, now + 1),
        ("week", true) => (monday - 7 * DAY, monday),
        ("weekend", true) => (monday - 2 * DAY, monday),
        ("month", false) => (month_start(year, month), now + 1),
        ("month", true) => (month_start(prev_year, prev_month), month_start(year, month)),
        ("year", false) => (month_start(year, 1), now + 1),
        ("year", true) => (month_start(year - 1, 1), month_start(year, 1)),
        _ => return None,
    };
    Some(TimeSpan { from, to })
}

/// "`count` `unit` ago" around `now`: "3 days ago", "a week ago", "two years ago".
fn ago_span(count: &str, unit: &str, now: Millis) -> Option<TimeSpan> {
    const WORDS: [&str; 13] = [
        "a", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    let n = match WORDS.iter().position(|w| *w == count) {
        Some(0) => 1,
        Some(i) => i as i64,
        None => count
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))?,
    };
    let (length, slack) = match unit.trim_end_matches('s') {
        "day" => (DAY, DAY),
        "week" => (7 * DAY, 3 * DAY),
        "month" => (30 * DAY, 15 * DAY),
        "year" => (365 * DAY, 182 * DAY),
        _ => return None,
    };
    let at = now - n * length;
    Some(TimeSpan {
        from: at - slack,
        to: at + slack,
    })
}

/// Whether the query asks when something happened ("When did ...", "what date ...").
pub fn asks_when(query_words: &[String]) -> bool {
    query_words.iter().any(|w| w == "when" || w == "date")
}

/// Whether a text places what it says in time (a time word or a year).
pub fn mentions_time(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| {
            let lower = w.to_lowercase();
            TIME_WORDS.contains(&lower.as_str())
                || MONTHS.contains(&lower.as_str()) && lower != "may"
                || (w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_days_and_years_are_read_from_questions() {
        let cue = |q: &str| date_cues(q);
        assert_eq!(
            cue("When did Melanie go camping in June?"),
            [DateCue {
                month: 6,
                year: None,
                day: None
            }]
        );
        assert_eq!(
            cue("What painting did she show on October 13, 2023?"),
            [DateCue {
                month: 10,
                year: Some(2023),
                day: Some(13)
            }]
        );
        assert_eq!(
            cue("What did Gina find on 1 February, 2023?"),
            [DateCue {
                month: 2,
                year: Some(2023),
                day: Some(1)
            }]
        );
        assert!(cue("May I ask what you may need?").is_empty());
        assert_eq!(cue("What happened in May 2023?")[0].year, Some(2023));
    }

    #[test]
    fn a_cue_matches_its_month_year_and_day() {
        let at = 1_683_554_160_000; // 8 May 2023
        let may = DateCue {
            month: 5,
            year: None,
            day: None,
        };
        assert!(may.matches(at));
        assert!(!DateCue { month: 6, ..may }.matches(at));
        assert!(!DateCue {
            year: Some(2022),
            ..may
        }
        .matches(at));
        assert!(DateCue {
            day: Some(9),
            ..may
        }
        .matches(at));
        assert!(!DateCue {
            day: Some(11),
            ..may
        }
        .matches(at));
    }

    #[test]
    fn time_words_and_when_questions() {
        assert!(mentions_time("I went to a support group yesterday"));
        assert!(mentions_time("back in 2019"));
        assert!(!mentions_time("I love painting"));
        assert!(asks_when(&["when".to_owned(), "did".to_owned()]));
    }

    #[test]
    fn relative_spans_are_read_against_the_time_of_asking() {
        let now = 1_683_554_160_000; // Monday 8 May 2023, 13:56 UTC
        let day = |y, m, d| days_from_civil(y, m, d) * DAY;
        let one = |q: &str| {
            let spans = relative_spans(q, now);
            assert_eq!(spans.len(), 1, "{q}: {spans:?}");
            (spans[0].from, spans[0].to)
        };
        assert_eq!(one("what happened today?"), (day(2023, 5, 8), now + 1));
        assert_eq!(
            one("what did I say yesterday"),
            (day(2023, 5, 7), day(2023, 5, 8))
        );
        assert_eq!(
            one("what did we do last week?"),
            (day(2023, 5, 1), day(2023, 5, 8))
        );
        assert_eq!(one("and last weekend?"), (day(2023, 5, 6), day(2023, 5, 8)));
        assert_eq!(
            one("what did we ship last month"),
            (day(2023, 4, 1), day(2023, 5, 1))
        );
        assert_eq!(one("in the last year?"), (day(2022, 1, 1), day(2023, 1, 1)));
        assert_eq!(one("this month so far"), (day(2023, 5, 1), now + 1));
        let (from, to) = one("what did Ann say three days ago");
        assert!(from < now - 3 * DAY && now - 3 * DAY < to && to < now - DAY);
        assert_eq!(one("two weeks ago"), one("2 weeks ago"));
        assert_eq!(one("a year ago"), one("1 year ago"));
        // January's last month is December of the year before.
        let january = day(2024, 1, 20);
        let last_month = relative_spans("last month", january)[0];
        assert_eq!(
            (last_month.from, last_month.to),
            (day(2023, 12, 1), day(2024, 1, 1))
        );
        for q in [
            "what was last?",
            "the last one",
            "days ago",
            "many years ago",
            "ago",
        ] {
            assert!(relative_spans(q, now).is_empty(), "{q}");
        }
    }
}
