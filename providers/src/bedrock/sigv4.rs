//! AWS Signature Version 4 for one request, with HMAC-SHA256 over `sha2` (RFC 2104).
//!
//! The canonical URI encodes each path segment once more, as every service but S3 expects,
//! so a model id's `%3A` is signed as `%253A`. Signed headers: `host`, `x-amz-content-sha256`,
//! `x-amz-date` and, with temporary credentials, `x-amz-security-token`.
//! Reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::azure_openai::encode_query;

/// What a signature needs besides the request.
pub(crate) struct Signing<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
    /// The `host` header, port included when it is not the default.
    pub host: &'a str,
    pub now: SystemTime,
}

impl Signing<'_> {
    /// The headers to add (lower-case names): `authorization`, `x-amz-date`,
    /// `x-amz-content-sha256` and maybe `x-amz-security-token`. `path` has no query.
    pub(crate) fn sign(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let (date, amz_date) = timestamps(self.now);
        let payload = hex(&Sha256::digest(body));
        let mut headers = vec![
            ("host", self.host.to_owned()),
            ("x-amz-content-sha256", payload.clone()),
            ("x-amz-date", amz_date.clone()),
        ];
        if let Some(token) = self.session_token {
            headers.push(("x-amz-security-token", token.to_owned()));
        }
        let canonical_headers: String = headers
            .iter()
            .map(|(n, v)| format!("{n}:{}\n", v.trim()))
            .collect();
        let signed_headers = headers
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(";");
        let canonical_uri = path
            .split('/')
            .map(encode_query)
            .collect::<Vec<_>>()
            .join("/");
        let canonical_request = format!(
            "{method}\n{canonical_uri}\n\n{canonical_headers}\n{signed_headers}\n{payload}"
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical_request.as_bytes()))
        );
        let key = signing_key(self.secret_access_key, &date, self.region, self.service);
        let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key_id
        );
        headers.remove(0);
        headers.push(("authorization", authorization));
        headers
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let date_key = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let region_key = hmac_sha256(&date_key, region.as_bytes());
    let service_key = hmac_sha256(&region_key, service.as_bytes());
    hmac_sha256(&service_key, b"aws4_request")
}

/// HMAC-SHA256 of `message` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// `YYYYMMDD` and `YYYYMMDDTHHMMSSZ` in UTC.
fn timestamps(now: SystemTime) -> (String, String) {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let (year, month, day) = civil_from_days(days);
    let rest = seconds % 86_400;
    let date = format!("{year:04}{month:02}{day:02}");
    let time = format!("{:02}{:02}{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    (date.clone(), format!("{date}T{time}Z"))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_and_long_keys_are_hashed_first() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(&[b'k'; 100], b"msg")),
            "bd56a1782c2830e8abc6ed866a57a1230661e650b84c62f7ee3accc5fa5af491"
        );
    }

    #[test]
    fn the_signing_key_matches_the_aws_documentation_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    /// The expected signature was computed by botocore's `SigV4Auth` for the same request.
    #[test]
    fn a_converse_request_is_signed_as_botocore_signs_it() {
        let signing = Signing {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: None,
            region: "us-east-1",
            service: "bedrock",
            host: "bedrock-runtime.us-east-1.amazonaws.com",
            now: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        };
        let path = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
        let headers = signing.sign("POST", path, br#"{"messages":[]}"#);
        let authorization = headers.iter().find(|(n, _)| *n == "authorization").unwrap();
        assert_eq!(
            authorization.1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=cff500e749152f452a0ea7a3cbd9af4cd9f34056339339f9f0e52d237487bed2"
        );
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        let at = |s: u64| timestamps(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), ("19700101".into(), "19700101T000000Z".into()));
        assert_eq!(
            at(1_700_000_000),
            ("20231114".into(), "20231114T221320Z".into())
        );
        assert_eq!(
            at(951_782_400),
            ("20000229".into(), "20000229T000000Z".into())
        );
    }
}
