//! Deadline overrides: services and composite checks, by name; unknown names refused.

use std::time::Duration;

use rabt_catalogue::{Catalogue, CatalogueError};

#[test]
fn deadlines_can_be_overridden_by_service_and_by_check() {
    let mut catalogue = Catalogue::bundled().unwrap();
    catalogue
        .set_deadline("post.address.verify", Duration::from_secs(3))
        .unwrap();
    catalogue
        .set_deadline(
            "cooperative.establishment.check/municipalLicense",
            Duration::from_secs(8),
        )
        .unwrap();
    assert_eq!(
        catalogue.service("post.address.verify").unwrap().deadline,
        Duration::from_secs(3)
    );
    let spec = catalogue
        .service("cooperative.establishment.check")
        .unwrap()
        .composite()
        .unwrap();
    assert_eq!(
        spec.child("municipalLicense").unwrap().deadline,
        Duration::from_secs(8)
    );
    assert_ne!(
        spec.child("registry").unwrap().deadline,
        Duration::from_secs(8),
        "only that check"
    );
}

#[test]
fn unknown_names_and_zero_deadlines_are_refused() {
    let mut catalogue = Catalogue::bundled().unwrap();
    for key in [
        "post.address.teleport",
        "post.address.verify/x",
        "cooperative.establishment.check/nothing",
    ] {
        let err = catalogue
            .set_deadline(key, Duration::from_secs(1))
            .unwrap_err();
        assert!(
            matches!(err, CatalogueError::UnknownDeadline { .. }),
            "{key}"
        );
    }
    assert!(
        catalogue
            .set_deadline("post.address.verify", Duration::ZERO)
            .is_err()
    );
}
