//! Ids: hex Display/FromStr, serde as hex strings, Debug, from_slice.

use holdfast_protocol::{DeviceId, DocumentId, EnvelopeId, Error, SystemRandom, TeamId};

#[test]
fn ids_print_and_parse_as_hex() {
    let team = TeamId([0xAB; 16]);
    assert_eq!(team.to_string(), "ab".repeat(16));
    assert_eq!(format!("{team:?}"), format!("TeamId({})", "ab".repeat(16)));
    assert_eq!("ab".repeat(16).parse::<TeamId>(), Ok(team));
    assert_eq!("AB".repeat(16).parse::<TeamId>(), Ok(team));
    for bad in [
        "",
        "ab",
        &"ab".repeat(17),
        &"zz".repeat(16),
        &format!("{} ", "ab".repeat(16)),
    ] {
        assert_eq!(
            bad.parse::<TeamId>(),
            Err(Error::InvalidId {
                kind: "team id",
                bytes: 16
            }),
            "{bad:?}"
        );
    }
    let id = EnvelopeId::of(b"abc");
    assert_eq!(
        id.to_string(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(id.to_string().parse::<EnvelopeId>(), Ok(id));
    assert!(format!("{id:?}").starts_with("EnvelopeId(ba7816bf"));
}

#[test]
fn ids_serialise_as_hex_strings() {
    let rng = SystemRandom::new();
    let device = DeviceId::random_with(&rng).unwrap();
    let json = serde_json::to_string(&device).unwrap();
    assert_eq!(json, format!("\"{device}\""));
    assert_eq!(serde_json::from_str::<DeviceId>(&json).unwrap(), device);
    assert!(serde_json::from_str::<DeviceId>("\"00\"").is_err());
    assert!(serde_json::from_str::<DeviceId>("[1,2]").is_err());
    let id = EnvelopeId::of(b"");
    assert_eq!(
        serde_json::from_str::<EnvelopeId>(&serde_json::to_string(&id).unwrap()).unwrap(),
        id
    );
}

#[test]
fn ids_from_slices_check_the_length() {
    assert_eq!(DocumentId::from_slice(&[7; 16]), Ok(DocumentId([7; 16])));
    assert_eq!(
        DocumentId::from_slice(&[7; 15]),
        Err(Error::InvalidId {
            kind: "document id",
            bytes: 16
        })
    );
    assert!(EnvelopeId::from_slice(&[0; 32]).is_ok());
    assert!(EnvelopeId::from_slice(&[0; 16]).is_err());
    let rng = SystemRandom::new();
    assert_ne!(
        TeamId::random_with(&rng).unwrap(),
        TeamId::random_with(&rng).unwrap()
    );
}
