//! The broker's claims in a verified token, and how they become a [`Principal`].
//!
//! Roles come from a top-level `roles` array, from Keycloak's `realm_access.roles`, or from both (then
//! the union counts: both are asserted by the same signed token). Every name must be one of the
//! broker's roles ([`Role::parse`]); an unknown name refuses the token, because silently dropping it
//! would hide a misconfigured identity provider.
//!
//! The one exception: Keycloak adds its own built-in realm roles to every user's
//! `realm_access.roles`, namely `offline_access`, `uma_authorization` and `default-roles-<realm>`.
//! They say nothing about the broker and cannot be removed in Keycloak without breaking its account
//! console, so exactly those names are skipped, and only in `realm_access.roles` (a top-level `roles`
//! claim is written for the broker and must hold broker roles only).

use mla_domain::{PartnerCode, Principal, Role};
use serde::Deserialize;

use crate::AuthError;

/// The names of Keycloak's built-in realm roles that are skipped in `realm_access.roles`; see the
/// module documentation. `default-roles-<realm>` is matched by [`is_keycloak_builtin_role`].
pub const KEYCLOAK_BUILTIN_ROLES: [&str; 2] = ["offline_access", "uma_authorization"];

/// The prefix of Keycloak's per-realm composite default role, `default-roles-<realm>`.
pub const KEYCLOAK_DEFAULT_ROLES_PREFIX: &str = "default-roles-";

/// True for the Keycloak built-in realm roles that the broker skips.
pub fn is_keycloak_builtin_role(name: &str) -> bool {
    KEYCLOAK_BUILTIN_ROLES.contains(&name)
        || name.strip_prefix(KEYCLOAK_DEFAULT_ROLES_PREFIX).is_some_and(|realm| !realm.is_empty())
}

/// The claims the broker reads from a token whose signature, issuer, audience and lifetime have already
/// been checked. Everything is optional here so that a missing claim is reported by the validation as
/// "missing" rather than as a parse failure; types are strict (`iss` is one string, `roles` an array
/// of strings) so that odd shapes are refused.
#[derive(Debug, Deserialize)]
pub(crate) struct BrokerClaims {
    #[serde(default)]
    sub: Option<String>,
    // The next four are read for their type (the library checks their values), `exp` also to bound how
    // long a verified token is remembered. A JWT has exactly
    // one issuer (RFC 7519 section 4.1.1), and the library would accept an array that merely contains
    // the right one; and it reports a non-numeric `exp` or a numeric `aud` as missing, not malformed.
    #[serde(default, rename = "iss")]
    _iss: Option<String>,
    #[serde(default, rename = "aud", deserialize_with = "audience_shape")]
    _aud: Option<()>,
    #[serde(default)]
    exp: Option<serde_json::Number>,
    #[serde(default, rename = "nbf")]
    _nbf: Option<serde_json::Number>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    realm_access: Option<RealmAccess>,
    #[serde(default)]
    partner: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RealmAccess {
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// Accepts what RFC 7519 section 4.1.3 allows for `aud`: one string or an array of strings.
fn audience_shape<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<()>, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(_) => Ok(Some(())),
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => Ok(Some(())),
        _ => Err(serde::de::Error::custom("aud must be a string or an array of strings")),
    }
}

impl BrokerClaims {
    /// The token's expiry, in seconds since the epoch.
    pub(crate) fn expires_at(&self) -> Option<u64> {
        self.exp.as_ref().and_then(serde_json::Number::as_u64)
    }

    /// The principal these claims describe.
    pub(crate) fn into_principal(self) -> Result<Principal, AuthError> {
        let subject = self.sub.ok_or(AuthError::MissingClaim("sub"))?;
        let mut roles = Vec::new();
        for name in self.roles.iter().flatten() {
            roles.push(parse_role(name)?);
        }
        let realm_roles = self.realm_access.and_then(|access| access.roles);
        for name in realm_roles.iter().flatten() {
            if is_keycloak_builtin_role(name) {
                continue;
            }
            roles.push(parse_role(name)?);
        }
        let partner = match self.partner {
            Some(raw) => Some(PartnerCode::parse(&raw).map_err(|_| {
                AuthError::InvalidPrincipal("the partner claim is not a partner code".into())
            })?),
            None => None,
        };
        Principal::from_claims(&subject, roles, partner).map_err(|e| AuthError::InvalidPrincipal(e.0))
    }
}

fn parse_role(name: &str) -> Result<Role, AuthError> {
    Role::parse(name).ok_or_else(|| AuthError::UnknownRole(shorten(name)))
}

/// At most 64 characters of a name taken from a token, for error messages and logs.
fn shorten(name: &str) -> String {
    const LIMIT: usize = 64;
    match name.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(claims: serde_json::Value) -> Result<Principal, AuthError> {
        serde_json::from_value::<BrokerClaims>(claims).unwrap().into_principal()
    }

    #[test]
    fn staff_roles_come_from_roles_realm_access_or_both() {
        let p = principal(json!({"sub": "alice", "roles": ["judge", "registrar"]})).unwrap();
        assert!(p.has_role(Role::Judge) && p.has_role(Role::Registrar));
        let p = principal(json!({"sub": "bob", "realm_access": {"roles": ["auditor"]}})).unwrap();
        assert!(p.has_role(Role::Auditor));
        let p = principal(json!({"sub": "eve", "roles": ["judge"], "realm_access": {"roles": ["admin"]}}))
            .unwrap();
        assert!(p.has_role(Role::Judge) && p.has_role(Role::Admin));
    }

    #[test]
    fn keycloak_builtins_are_skipped_only_in_realm_access() {
        let p = principal(json!({"sub": "kc", "realm_access": {"roles": [
            "offline_access", "uma_authorization", "default-roles-ncijc", "legal_officer"
        ]}}))
        .unwrap();
        assert_eq!(p.role_names(), vec!["legal_officer"]);
        // Only built-ins in realm_access: no broker role is left, so there is no principal.
        assert!(matches!(
            principal(json!({"sub": "kc", "realm_access": {"roles": ["offline_access"]}})),
            Err(AuthError::InvalidPrincipal(_))
        ));
        assert_eq!(
            principal(json!({"sub": "kc", "roles": ["offline_access", "judge"]})),
            Err(AuthError::UnknownRole("offline_access".into()))
        );
        // The prefix alone is not Keycloak's role, and near misses are refused.
        for near_miss in ["default-roles-", "default-role-x", "Offline_access", "uma_authorisation"] {
            assert!(!is_keycloak_builtin_role(near_miss), "{near_miss}");
            assert_eq!(
                principal(json!({"sub": "kc", "realm_access": {"roles": ["judge", near_miss]}})),
                Err(AuthError::UnknownRole(near_miss.into()))
            );
        }
    }

    #[test]
    fn unknown_roles_are_refused_not_ignored() {
        assert_eq!(
            principal(json!({"sub": "mallory", "roles": ["judge", "superuser"]})),
            Err(AuthError::UnknownRole("superuser".into()))
        );
        assert_eq!(
            principal(json!({"sub": "mallory", "roles": ["Judge"]})),
            Err(AuthError::UnknownRole("Judge".into()))
        );
        let long = "r".repeat(10_000);
        let Err(AuthError::UnknownRole(shown)) = principal(json!({"sub": "m", "roles": [long]})) else {
            panic!("a long unknown role was accepted");
        };
        assert!(shown.len() < 80);
    }

    #[test]
    fn partners_need_the_partner_role_and_a_well_formed_code() {
        let p = principal(json!({"sub": "fr", "roles": ["partner"], "partner": "FR-MOJ"})).unwrap();
        assert_eq!(p.partner_code().map(PartnerCode::as_str), Some("FR-MOJ"));
        for claims in [
            json!({"sub": "fr", "roles": ["partner"]}),
            json!({"sub": "fr", "roles": ["partner"], "partner": "fr-moj"}),
            json!({"sub": "fr", "roles": ["partner", "judge"], "partner": "FR-MOJ"}),
            json!({"sub": "fr", "roles": ["judge"], "partner": "FR-MOJ"}),
            json!({"sub": "fr", "roles": []}),
            json!({"sub": "", "roles": ["judge"]}),
        ] {
            assert!(matches!(principal(claims.clone()), Err(AuthError::InvalidPrincipal(_))), "{claims}");
        }
        assert_eq!(principal(json!({"roles": ["judge"]})), Err(AuthError::MissingClaim("sub")));
    }

    #[test]
    fn odd_claim_shapes_do_not_parse() {
        for claims in [
            json!({"sub": "a", "roles": "judge"}),
            json!({"sub": "a", "roles": [1]}),
            json!({"sub": "a", "iss": ["x", "y"]}),
            json!({"sub": "a", "exp": "tomorrow"}),
            json!({"sub": "a", "aud": 7}),
            json!({"sub": "a", "aud": ["x", 7]}),
            json!({"sub": "a", "nbf": null, "exp": [1]}),
            json!({"sub": 7}),
            json!({"sub": "a", "realm_access": {"roles": "judge"}}),
        ] {
            assert!(serde_json::from_value::<BrokerClaims>(claims.clone()).is_err(), "{claims}");
        }
    }
}
