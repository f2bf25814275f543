//! The auth challenge answer.

mod common;

use common::*;
use holdfast_protocol::{
    DeviceId, Error, MAX_ORIGIN_LEN, SystemRandom, auth_message, new_challenge, sign_auth,
    verify_auth,
};

#[test]
fn answers_verify_only_for_the_same_origin_device_and_challenge() {
    let rng = SystemRandom::new();
    let challenge = new_challenge(&rng).unwrap();
    let signature = sign_auth(&signer(), ORIGIN, &author(), &challenge).unwrap();
    let public = signer().public_key();
    verify_auth(&public, ORIGIN, &author(), &challenge, &signature).unwrap();
    let other_challenge = new_challenge(&rng).unwrap();
    assert_ne!(challenge, other_challenge);
    for outcome in [
        verify_auth(
            &public,
            "https://relay.example",
            &author(),
            &challenge,
            &signature,
        ),
        verify_auth(&public, ORIGIN, &DeviceId([0; 16]), &challenge, &signature),
        verify_auth(&public, ORIGIN, &author(), &other_challenge, &signature),
        verify_auth(
            &other_signer().public_key(),
            ORIGIN,
            &author(),
            &challenge,
            &signature,
        ),
    ] {
        assert_eq!(outcome, Err(Error::BadSignature));
    }
}

#[test]
fn the_message_is_laid_out_as_specified() {
    let message = auth_message(ORIGIN, &author(), &challenge()).unwrap();
    let mut expected = b"holdfast-auth-v1".to_vec();
    expected.extend_from_slice(&(ORIGIN.len() as u16).to_be_bytes());
    expected.extend_from_slice(ORIGIN.as_bytes());
    expected.extend_from_slice(&author().0);
    expected.extend_from_slice(&challenge());
    assert_eq!(message, expected);
}

#[test]
fn origins_must_be_non_empty_and_fit_the_prefix() {
    assert_eq!(
        auth_message("", &author(), &challenge()),
        Err(Error::BadOrigin {
            len: 0,
            max: MAX_ORIGIN_LEN
        })
    );
    let long = "a".repeat(MAX_ORIGIN_LEN + 1);
    assert_eq!(
        sign_auth(&signer(), &long, &author(), &challenge()),
        Err(Error::BadOrigin {
            len: MAX_ORIGIN_LEN + 1,
            max: MAX_ORIGIN_LEN
        })
    );
    assert!(auth_message(&long[1..], &author(), &challenge()).is_ok());
}
