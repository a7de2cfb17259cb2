//! Where `cutover deploy --until` stops a rollout (OpenShift's deployer's `--until`).

/// Where `cutover deploy --until` stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Before anything (after nothing: cutover's strategies scale older revisions themselves).
    Start,
    /// After the pre hook (even when there is none).
    Pre,
    /// Recreate: after the mid hook (even when there is none).
    Mid,
    /// Recreate: `0%` once the old pods are gone, `N%` after the acceptance check of the first
    /// pod; Rolling: `0%` before any scaling, `N%` once N% of the new pods are available; both:
    /// `100%` at full scale, before the post hook.
    Percent(u32),
}

impl Until {
    /// `start`, `pre`, `mid` or `N%` (0 to 100); anything else is not a stop point (OpenShift
    /// ignores it and runs to completion).
    pub fn parse(s: &str) -> Option<Until> {
        match s.trim() {
            "start" => Some(Until::Start),
            "pre" => Some(Until::Pre),
            "mid" => Some(Until::Mid),
            other => other
                .strip_suffix('%')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n <= 100)
                .map(Until::Percent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_points_parse_and_others_are_ignored() {
        assert_eq!(Until::parse("start"), Some(Until::Start));
        assert_eq!(Until::parse("pre"), Some(Until::Pre));
        assert_eq!(Until::parse("mid"), Some(Until::Mid));
        assert_eq!(Until::parse("0%"), Some(Until::Percent(0)));
        assert_eq!(Until::parse("50%"), Some(Until::Percent(50)));
        assert_eq!(Until::parse("100%"), Some(Until::Percent(100)));
        for other in ["", "post", "50", "101%", "-1%", "half"] {
            assert_eq!(Until::parse(other), None, "{other}");
        }
    }
}
