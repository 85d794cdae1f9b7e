//! Key selection, algorithm/key matching, claim checks and claim mapping.

#[path = "../../../tests/e2e/signing.rs"]
mod signing;

use serde_json::json;

use self::signing::{SigningKey, claims, jwks, now, unsigned};
use super::*;

const ISS: &str = "https://login.example.com";

fn check(token: &str, keys: &KeySet) -> Result<Map<String, Value>, Refusal> {
    let expect = Expectations::new(ISS, &["switchyard".to_owned()]);
    verify(&peek(token)?, keys, &expect)
}

fn set(keys: &[&SigningKey]) -> KeySet {
    KeySet::parse(jwks(keys).as_bytes()).unwrap()
}

#[test]
fn each_key_type_verifies_its_own_tokens() {
    let keys = [
        SigningKey::rsa("r"),
        SigningKey::p256("p"),
        SigningKey::ed25519("e"),
    ];
    let all = set(&[&keys[0], &keys[1], &keys[2]]);
    for key in &keys {
        let token = key.token(&claims(ISS, "switchyard", "ann"));
        let claims = check(&token, &all).unwrap_or_else(|e| panic!("{}: {e}", key.alg()));
        assert_eq!(claims["sub"], "ann");
    }
}

#[test]
fn without_a_kid_every_key_of_the_algorithm_is_tried() {
    let (first, second) = (SigningKey::ed25519("a"), SigningKey::ed25519("b"));
    let keys = set(&[&first, &second]);
    let header = json!({"alg": "EdDSA"});
    let token = second.sign(&header, &claims(ISS, "switchyard", "ann"));
    assert!(check(&token, &keys).is_ok());
    let stranger = SigningKey::ed25519("c").sign(&header, &claims(ISS, "switchyard", "ann"));
    assert_eq!(check(&stranger, &keys), Err(Refusal::BadSignature));
    let other_type =
        SigningKey::p256("d").sign(&json!({"alg": "ES256"}), &claims(ISS, "switchyard", "x"));
    assert_eq!(check(&other_type, &keys), Err(Refusal::UnknownKey));
}

#[test]
fn the_algorithm_must_fit_the_key_it_names() {
    let rsa = SigningKey::rsa("r");
    let keys = set(&[&rsa]);
    // An ES256 signature presented for the RSA key's kid.
    let confused = SigningKey::p256("r").token(&claims(ISS, "switchyard", "ann"));
    assert_eq!(check(&confused, &keys), Err(Refusal::AlgorithmMismatch));
    // HMAC with the public key as the secret: the classic confusion, refused before any check.
    let hmac = rsa.sign(
        &json!({"alg": "HS256", "kid": "r"}),
        &claims(ISS, "switchyard", "x"),
    );
    assert_eq!(check(&hmac, &keys), Err(Refusal::Algorithm));
    assert_eq!(
        check(&unsigned(&claims(ISS, "switchyard", "x")), &keys),
        Err(Refusal::Algorithm)
    );
    // A JWK that declares its alg accepts only that one.
    let mut jwk = rsa.jwk();
    jwk["alg"] = json!("PS256");
    let declared = KeySet::parse(json!({"keys": [jwk]}).to_string().as_bytes()).unwrap();
    assert_eq!(
        check(&rsa.token(&claims(ISS, "switchyard", "x")), &declared),
        Err(Refusal::AlgorithmMismatch)
    );
}

#[test]
fn symmetric_and_encryption_keys_are_never_used() {
    let doc = json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
        {"kty": "RSA", "use": "enc", "kid": "x", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "secp256k1", "kid": "k", "x": "AA", "y": "AA"},
        {"kty": "unknown"}
    ]});
    assert!(
        KeySet::parse(doc.to_string().as_bytes())
            .unwrap()
            .is_empty()
    );
    assert!(KeySet::parse(b"{\"keys\": 1}").is_err());
}

#[test]
fn claims_are_checked_after_the_signature() {
    let key = SigningKey::ed25519("e");
    let keys = set(&[&key]);
    let with = |patch: Value| {
        let mut c = claims(ISS, "switchyard", "ann");
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        check(&key.token(&c), &keys)
    };
    assert_eq!(with(json!({"exp": now() - 120})), Err(Refusal::Expired));
    assert!(
        with(json!({"exp": now() - 10})).is_ok(),
        "within the leeway"
    );
    assert_eq!(with(json!({"nbf": now() + 600})), Err(Refusal::NotYetValid));
    assert_eq!(
        with(json!({"nbf": "later"})),
        Err(Refusal::ClaimFormat("nbf".into())),
        "a string nbf is not skipped (CVE-2026-25537)"
    );
    assert_eq!(with(json!({"aud": "other"})), Err(Refusal::WrongAudience));
    assert!(with(json!({"aud": ["other", "switchyard"]})).is_ok());
    assert_eq!(
        with(json!({"iss": "https://evil.example.com"})),
        Err(Refusal::UnknownIssuer)
    );
    let mut no_exp = claims(ISS, "switchyard", "ann");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        check(&key.token(&no_exp), &keys),
        Err(Refusal::MissingClaim("exp".into()))
    );
    let token = key.token(&claims(ISS, "switchyard", "ann"));
    let mut forged = token.rsplit_once('.').unwrap().0.to_owned();
    forged.push_str(".AAAA");
    assert_eq!(check(&forged, &keys), Err(Refusal::BadSignature));
    assert_eq!(check("eyJ.not.json", &keys), Err(Refusal::Malformed));
}

#[test]
fn claims_map_to_a_subject_and_groups() {
    let claims = json!({
        "sub": "u-1", "email": "ann@example.com", "uid": 42,
        "groups": ["search", 7, "ads"], "scope": "read write,admin",
        "realm_access": {"roles": ["ops"]}, "object": {}
    });
    let claims = claims.as_object().unwrap();
    assert_eq!(&*subject(claims, "email").unwrap(), "ann@example.com");
    assert_eq!(&*subject(claims, "uid").unwrap(), "42");
    assert_eq!(
        subject(claims, "name"),
        Err(Refusal::MissingClaim("name".into()))
    );
    assert_eq!(
        subject(claims, "object"),
        Err(Refusal::ClaimFormat("object".into()))
    );
    let names = |claim: &str| {
        groups(claims, claim)
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names("groups"), ["search", "ads"]);
    assert_eq!(names("scope"), ["read", "write", "admin"]);
    assert_eq!(names("realm_access.roles"), ["ops"]);
    assert!(names("missing").is_empty());
}

#[test]
fn only_three_segment_tokens_starting_with_a_json_header_are_jwts() {
    let token = SigningKey::ed25519("e").token(&claims(ISS, "a", "b"));
    assert!(looks_like_jwt(&token));
    assert!(looks_like_jwt(&unsigned(&claims(ISS, "a", "b"))));
    assert!(!looks_like_jwt("sk-ann-0123456789"));
    assert!(!looks_like_jwt("key.with.dots"));
    assert!(!looks_like_jwt("eyJ.a.b.c"));
}
