//! Capacity limits per component and how full a component is.

use crate::component::Component;

/// How full a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityLevel {
    /// At capacity: the next add displaces an item (or fails in strict mode).
    Full,
    /// Close to full: 5 of 7, 3 of 4; see [`CapacityStatus::of`].
    NearFull,
    /// Room to spare.
    Available,
}

/// Capacity status of one component of one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CapacityStatus {
    /// The component.
    pub component: Component,
    /// Active items.
    pub count: usize,
    /// Its capacity.
    pub capacity: usize,
    /// `capacity - count` (0 when over).
    pub free: usize,
    /// Full, near-full or available.
    pub level: CapacityLevel,
}

impl CapacityStatus {
    /// The status of `count` active items in a component of `capacity`. Near-full starts at
    /// 70 % of capacity rounded up, at least one below capacity: 5 of 7 and 3 of 4.
    pub fn of(component: Component, count: usize, capacity: usize) -> Self {
        let near = (capacity * 7)
            .div_ceil(10)
            .min(capacity.saturating_sub(1))
            .max(1);
        let level = if count >= capacity {
            CapacityLevel::Full
        } else if count >= near {
            CapacityLevel::NearFull
        } else {
            CapacityLevel::Available
        };
        CapacityStatus {
            component,
            count,
            capacity,
            free: capacity.saturating_sub(count),
            level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_for_seven_and_four() {
        let level = |n, cap| CapacityStatus::of(Component::Phonological, n, cap).level;
        assert_eq!(level(4, 7), CapacityLevel::Available);
        assert_eq!(level(5, 7), CapacityLevel::NearFull);
        assert_eq!(level(6, 7), CapacityLevel::NearFull);
        assert_eq!(level(7, 7), CapacityLevel::Full);
        assert_eq!(level(2, 4), CapacityLevel::Available);
        assert_eq!(level(3, 4), CapacityLevel::NearFull);
        assert_eq!(level(4, 4), CapacityLevel::Full);
        assert_eq!(CapacityStatus::of(Component::Phonological, 5, 7).free, 2);
    }
}
