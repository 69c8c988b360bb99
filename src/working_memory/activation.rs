//! Activation and decay: A(t) = A0 · exp(−λ·t), λ = decay_rate · (1 − 0.5 · importance), t the
//! seconds since the item was last accessed.
//!
//! Inside the database the same quantity is compared in log space, ln A(t) = ln A0 − λ·t,
//! because SQLite ships without `exp()`; the log is strictly monotone, so ordering and threshold
//! tests are the same, and [`ln_activation_at`] is the exact arithmetic the SQL performs (the
//! `ln_activation_sql!` macro in the working-memory module).
//!
//! The default decay rate is 1/300 per second (the original's capacity enforcer used 0.1/30).
//! Its half-lives, ln 2 / λ:
//!
//! | importance | λ (per s) | half-life |
//! |---|---|---|
//! | 0 | 0.003333 | 208 s (3.5 min) |
//! | 0.5 | 0.002500 | 277 s (4.6 min) |
//! | 1 | 0.001667 | 416 s (6.9 min) |
//!
//! Agents work on a task for minutes, not seconds: the original's 0.1/s (7–14 s half-lives)
//! would let a note fade before the agent's next tool call returns. With the default decay
//! threshold of 0.1, an untouched item of importance 0 falls below it after 11.5 minutes.

use crate::time::{seconds_between, Millis};

/// Floor of stored `ln A0`, so an activation of 0 has a finite log.
pub const LN_FLOOR: f64 = -708.0;

/// The effective decay rate λ = decay_rate · (1 − 0.5 · importance).
pub fn effective_rate(decay_rate: f64, importance: f64) -> f64 {
    decay_rate * (1.0 - 0.5 * importance)
}

/// `ln A0`, floored at [`LN_FLOOR`].
pub fn ln_activation(a0: f64) -> f64 {
    if a0 > 0.0 {
        a0.ln().max(LN_FLOOR)
    } else {
        LN_FLOOR
    }
}

/// ln A(t) exactly as the SQL computes it: `ln_a0 − rate·(1 − 0.5·importance)·(Δms / 1000)`.
pub fn ln_activation_at(
    ln_a0: f64,
    decay_rate: f64,
    importance: f64,
    last_accessed_at: Millis,
    now: Millis,
) -> f64 {
    ln_a0 - decay_rate * (1.0 - 0.5 * importance) * ((now - last_accessed_at) as f64 / 1000.0)
}

/// A(t) = A0 · exp(−λ·t) for `t` seconds since last access.
pub fn activation_after(a0: f64, decay_rate: f64, importance: f64, seconds: f64) -> f64 {
    a0 * (-effective_rate(decay_rate, importance) * seconds).exp()
}

/// A(t) at `now` for an item last accessed at `last_accessed_at` (clock skew counts as t = 0).
pub fn activation_at(
    a0: f64,
    decay_rate: f64,
    importance: f64,
    last_accessed_at: Millis,
    now: Millis,
) -> f64 {
    activation_after(
        a0,
        decay_rate,
        importance,
        seconds_between(last_accessed_at, now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_DECAY_RATE;

    #[test]
    fn half_lives_of_the_default_rate_are_the_documented_ones() {
        let half_life = |imp: f64| std::f64::consts::LN_2 / effective_rate(DEFAULT_DECAY_RATE, imp);
        assert_eq!(half_life(0.0).round(), 208.0);
        assert_eq!(half_life(0.5).round(), 277.0);
        assert_eq!(half_life(1.0).round(), 416.0);
    }

    #[test]
    fn known_values() {
        // decay 0.1/s, importance 0: lambda 0.1, A(10) = e^-1.
        assert!((activation_after(1.0, 0.1, 0.0, 10.0) - (-1.0f64).exp()).abs() < 1e-15);
        // importance 1 halves lambda.
        assert!((activation_after(0.8, 0.1, 1.0, 20.0) - 0.8 * (-1.0f64).exp()).abs() < 1e-15);
        let ln = ln_activation_at(ln_activation(0.8), 0.1, 1.0, 0, 20_000);
        assert!((ln.exp() - 0.8 * (-1.0f64).exp()).abs() < 1e-12);
        assert_eq!(ln_activation(0.0), LN_FLOOR);
    }
}
