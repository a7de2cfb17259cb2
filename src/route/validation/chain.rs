//! A certificate's chain as Go's `Certificate.Verify` finds it for the router: every CA
//! certificate a root, the leaf's issuer the end of the chain.

use jiff::Timestamp;

use super::public_key::Algorithm;
use super::x509::Certificate;

/// Go's `Certificate.Verify` as the router calls it (the CA certificates both the roots and the
/// intermediates, no host name, `serverAuth`), less the `Expired` errors the router ignores.
///
/// As every CA certificate is a root, a chain ends at the leaf's issuer: the candidates are the
/// CA certificates of its name. Where none signed the leaf, the authority is unknown (with why
/// the first candidate failed); where one did but is not valid itself, Go returns what is wrong
/// with the last such one: if that is its validity period, the router lets the Route by.
pub(super) fn verify(
    leaf: &Certificate<'_>,
    pool: &[Certificate<'_>],
    now: Timestamp,
) -> Result<(), String> {
    const CRITICAL: &str = "x509: unhandled critical extension";
    if leaf.unhandled_critical_extension() {
        return Err(CRITICAL.into());
    }
    if !leaf.valid_at(now) {
        return Ok(());
    }
    let mut chains: Vec<Vec<&Certificate<'_>>> = Vec::new();
    if pool.iter().any(|c| c.raw == leaf.raw) {
        chains.push(vec![leaf]);
    } else {
        let mut candidates: Vec<&Certificate<'_>> = Vec::new();
        for c in pool {
            if c.subject() == leaf.issuer() && !candidates.iter().any(|k| k.raw == c.raw) {
                candidates.push(c);
            }
        }
        // The likeliest first: key identifiers that match, then those where one is missing.
        let rank = |c: &Certificate<'_>| {
            let (ski, aki) = (c.subject_key_id(), leaf.authority_key_id());
            if ski == aki {
                0
            } else if ski.is_none() || aki.is_none() {
                1
            } else {
                2
            }
        };
        candidates.sort_by_key(|c| rank(c));
        let mut hint: Option<(String, &Certificate<'_>)> = None;
        // What is wrong with the last candidate that signed the leaf: expired (or not yet
        // valid), or carrying an extension Go does not know marked critical.
        let mut invalid = None;
        for parent in candidates {
            let in_chain = parent.subject() == leaf.subject()
                && parent.x509.public_key().raw == leaf.x509.public_key().raw
                && parent.subject_alt_names() == leaf.subject_alt_names();
            if in_chain || parent.public().algorithm() == Algorithm::Unknown {
                continue;
            }
            if let Err(e) = leaf.signed_by(parent) {
                hint.get_or_insert((e, parent));
                continue;
            }
            if parent.unhandled_critical_extension() {
                invalid = Some(Err(CRITICAL.to_string()));
            } else if !parent.valid_at(now) {
                invalid = Some(Ok(()));
            } else {
                chains.push(vec![leaf, parent]);
            }
        }
        if chains.is_empty() {
            if let Some(outcome) = invalid {
                return outcome;
            }
            let mut message = "x509: certificate signed by unknown authority".to_string();
            if let Some((e, c)) = hint {
                message.push_str(&format!(
                    " (possibly because of {e:?} while trying to verify candidate authority certificate {:?})",
                    c.name()
                ));
            }
            return Err(message);
        }
    }
    if chains.iter().any(|chain| chain.iter().all(|c| c.serves())) {
        Ok(())
    } else {
        Err("x509: certificate specifies an incompatible key usage".into())
    }
}
