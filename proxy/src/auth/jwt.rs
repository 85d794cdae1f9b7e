//! JWT verification: a JWKS document parsed into keys once (per snapshot, or per fetch), and a
//! token checked against them — the signature with the key its header names (`kid`, or each key
//! that fits the algorithm when it names none), `alg` consistent with that key, then `iss`,
//! `aud`, `exp` and `nbf` with a small leeway — and its claims mapped to a subject and groups.
//!
//! Only asymmetric algorithms exist here: a JWKS is public, so an HMAC "key" from it would let
//! anyone sign tokens, and `alg: none` is no signature at all.

#[cfg(test)]
mod tests;

use std::str::FromStr;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse},
};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Seconds of clock skew tolerated on `exp` and `nbf` (issuers' and proxies' clocks drift).
pub const LEEWAY_SECONDS: u64 = 30;

const RSA: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];
const P256: &[Algorithm] = &[Algorithm::ES256];
const P384: &[Algorithm] = &[Algorithm::ES384];
const ED25519: &[Algorithm] = &[Algorithm::EdDSA];
/// Every algorithm a key here can verify.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a bearer token was refused. Messages name what is wrong, never the token or its claims.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not three base64url segments with a JSON header and payload.
    #[error("it is not a well-formed JWT")]
    Malformed,
    /// `none`, HMAC or an unknown `alg`.
    #[error("its algorithm is not accepted (RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA)")]
    Algorithm,
    /// No issuer the route's policies trust issued it.
    #[error("its issuer (iss) is not trusted for this model")]
    UnknownIssuer,
    /// Its `kid` (or, without one, its algorithm) matches no key of the issuer.
    #[error("it was signed with a key the issuer does not publish (unknown kid)")]
    UnknownKey,
    /// The key it names is for another algorithm.
    #[error("its algorithm does not match the key it names")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("its signature is not valid")]
    BadSignature,
    /// `exp` has passed.
    #[error("it has expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("it is not valid yet (nbf)")]
    NotYetValid,
    /// `aud` names none of the accepted audiences.
    #[error("its audience (aud) is not accepted for this model")]
    WrongAudience,
    /// A required claim is missing.
    #[error("it has no `{0}` claim")]
    MissingClaim(Box<str>),
    /// A claim has the wrong type (a string `exp`, an object subject…).
    #[error("its `{0}` claim has the wrong type")]
    ClaimFormat(Box<str>),
    /// The issuer's keys have not been fetched (yet); not the caller's fault.
    #[error("the issuer's keys could not be fetched yet; retry shortly")]
    KeysUnavailable,
}

impl Refusal {
    /// The `reason` label of the security event.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed => "jwt_malformed",
            Self::Algorithm => "jwt_algorithm",
            Self::UnknownIssuer => "jwt_unknown_issuer",
            Self::UnknownKey => "jwt_unknown_key",
            Self::AlgorithmMismatch => "jwt_algorithm_mismatch",
            Self::BadSignature => "jwt_bad_signature",
            Self::Expired => "jwt_expired",
            Self::NotYetValid => "jwt_not_yet_valid",
            Self::WrongAudience => "jwt_wrong_audience",
            Self::MissingClaim(_) | Self::ClaimFormat(_) => "jwt_claims",
            Self::KeysUnavailable => "jwt_keys_unavailable",
        }
    }

    fn from_jsonwebtoken(error: &jsonwebtoken::errors::Error) -> Self {
        match error.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidIssuer => Self::UnknownIssuer,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => Self::AlgorithmMismatch,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.as_str().into()),
            ErrorKind::InvalidClaimFormat(claim) => Self::ClaimFormat(claim.as_str().into()),
            _ => Self::Malformed,
        }
    }
}

/// One verification key and the algorithms it may verify.
#[derive(Debug)]
struct Key {
    kid: Option<Box<str>>,
    algorithms: &'static [Algorithm],
    key: DecodingKey,
}

/// A JWKS, parsed: the keys that can verify signatures.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

/// Why a JWKS document was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// Not JSON with a `keys` list.
    #[error("not a JSON Web Key Set (a JSON object with a \"keys\" list): {0}")]
    NotJwks(#[from] serde_json::Error),
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<Value>,
}

impl KeySet {
    /// Parses a JWKS. Keys that cannot verify signatures here (encryption keys, symmetric
    /// keys, unknown types or curves, an `alg` that contradicts the key type) are left out.
    pub fn parse(doc: &[u8]) -> Result<Self, JwksError> {
        let doc: JwksDocument = serde_json::from_slice(doc)?;
        let keys = doc
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| {
                let algorithms = algorithms(&jwk)?;
                let key = DecodingKey::from_jwk(&jwk).ok()?;
                Some(Key {
                    kid: jwk.common.key_id.map(Into::into),
                    algorithms,
                    key,
                })
            })
            .collect();
        Ok(Self { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The algorithms a JWK may verify: those of its type and curve, narrowed to its `alg` if it
/// declares one. `None` for keys that are not for signatures here.
fn algorithms(jwk: &Jwk) -> Option<&'static [Algorithm]> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => RSA,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => P256,
            EllipticCurve::P384 => P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => ED25519,
            _ => return None,
        },
        // Symmetric (`oct`) keys, and whatever else a JWKS may hold.
        _ => return None,
    };
    let Some(declared) = jwk.common.key_algorithm else {
        return Some(family);
    };
    let declared = Algorithm::from_str(&declared.to_string()).ok()?;
    family
        .iter()
        .position(|a| *a == declared)
        .map(|at| &family[at..=at])
}

/// What a token must satisfy besides its signature, prepared once per issuer: one
/// [`Validation`] per algorithm, because `jsonwebtoken` checks the header's `alg` against it.
#[derive(Debug)]
pub struct Expectations {
    validations: Vec<Validation>,
}

impl Expectations {
    /// `iss` must be `issuer`, `aud` one of `audiences`; `exp` is required.
    pub fn new(issuer: &str, audiences: &[String]) -> Self {
        let validations = ACCEPTED
            .iter()
            .map(|alg| {
                let mut v = Validation::new(*alg);
                v.set_issuer(&[issuer]);
                v.set_audience(audiences);
                v.set_required_spec_claims(&["exp", "iss", "aud"]);
                v.validate_nbf = true;
                v.leeway = LEEWAY_SECONDS;
                v
            })
            .collect();
        Self { validations }
    }

    fn for_algorithm(&self, alg: Algorithm) -> Option<&Validation> {
        self.validations.iter().find(|v| v.algorithms == [alg])
    }
}

/// A token's header and issuer, read before anything is verified, to pick the issuer and key.
#[derive(Debug)]
pub struct Unverified<'a> {
    token: &'a str,
    alg: Algorithm,
    kid: Option<String>,
    /// The `iss` the token claims (not verified yet).
    pub issuer: String,
}

#[derive(Deserialize)]
struct HeaderPeek {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct IssuerPeek {
    #[serde(default)]
    iss: Option<String>,
}

/// Whether a presented credential is a JWT rather than an API key: three dot-separated
/// segments, the first a base64url JSON object (`eyJ` is `{"`).
pub fn looks_like_jwt(credential: &str) -> bool {
    let mut parts = credential.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    header.starts_with("eyJ")
}

/// Reads a token's header and claimed issuer.
pub fn peek(token: &str) -> Result<Unverified<'_>, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return Err(Refusal::Malformed);
    };
    let header: HeaderPeek = decode_segment(header)?;
    let alg = match Algorithm::from_str(&header.alg) {
        Ok(alg) if ACCEPTED.contains(&alg) => alg,
        _ => return Err(Refusal::Algorithm),
    };
    let claims: IssuerPeek = decode_segment(payload)?;
    Ok(Unverified {
        token,
        alg,
        kid: header.kid,
        issuer: claims.iss.ok_or(Refusal::MissingClaim("iss".into()))?,
    })
}

fn decode_segment<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, Refusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Refusal::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed)
}

/// Verifies `token` with `keys` and checks its claims; returns the claims.
pub fn verify(
    token: &Unverified<'_>,
    keys: &KeySet,
    expect: &Expectations,
) -> Result<Map<String, Value>, Refusal> {
    let validation = expect.for_algorithm(token.alg).ok_or(Refusal::Algorithm)?;
    let named = |key: &&Key| match (&token.kid, &key.kid) {
        (Some(wanted), Some(kid)) => **kid == **wanted,
        (Some(_), None) => false,
        (None, _) => true,
    };
    let mut last = Refusal::UnknownKey;
    for key in keys.keys.iter().filter(named) {
        if !key.algorithms.contains(&token.alg) {
            // A key named by kid must fit; without a kid, keys of other types are skipped.
            if token.kid.is_some() {
                last = Refusal::AlgorithmMismatch;
            }
            continue;
        }
        match jsonwebtoken::decode::<Map<String, Value>>(token.token, &key.key, validation) {
            Ok(data) => return Ok(data.claims),
            Err(error) => last = Refusal::from_jsonwebtoken(&error),
        }
        // Without a kid, another key of the set may be the one; any other failure is final.
        if last != Refusal::BadSignature {
            break;
        }
    }
    Err(last)
}

/// A claim by name; a name with dots that is not a top-level claim is a path into nested
/// objects (`realm_access.roles`).
pub fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    claims.get(name).or_else(|| {
        let mut parts = name.split('.');
        let first = claims.get(parts.next()?)?;
        parts.try_fold(first, |value, part| value.get(part))
    })
}

/// The subject: the named claim, a string (or a number, as some issuers write user ids).
pub fn subject(claims: &Map<String, Value>, name: &str) -> Result<Box<str>, Refusal> {
    match claim(claims, name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str().into()),
        Some(Value::Number(n)) => Ok(n.to_string().into()),
        None | Some(Value::Null) => Err(Refusal::MissingClaim(name.into())),
        Some(_) => Err(Refusal::ClaimFormat(name.into())),
    }
}

/// The groups: the named claim as a list of strings, or one string of names separated by
/// spaces or commas (as OAuth `scope` is); none when the claim is absent.
pub fn groups(claims: &Map<String, Value>, name: &str) -> Box<[Box<str>]> {
    match claim(claims, name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|g| !g.is_empty())
            .map(Into::into)
            .collect(),
        Some(Value::String(s)) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|g| !g.is_empty())
            .map(Into::into)
            .collect(),
        _ => Box::default(),
    }
}
