use std::collections::BTreeSet;
use std::time::Duration;

use rabt_catalogue::{Mode, ServiceKind, bundled_files};
use rabt_core::Agency;

use crate::{catalogue, service};

/// DESIGN.md's catalogue: every service, its agency and how it answers.
const DESIGN: [(&str, Option<(Agency, Mode)>); 9] = [
    (
        "interior.identity.verify",
        Some((Agency::Interior, Mode::Sync)),
    ),
    (
        "interior.mobile.verify",
        Some((Agency::Interior, Mode::Sync)),
    ),
    ("post.address.verify", Some((Agency::SaudiPost, Mode::Sync))),
    (
        "labor.establishment.compliance",
        Some((Agency::Labor, Mode::Sync)),
    ),
    (
        "labor.cooperative.registration",
        Some((Agency::Labor, Mode::Sync)),
    ),
    (
        "chambers.membership.verify",
        Some((Agency::Chambers, Mode::Sync)),
    ),
    (
        "municipal.license.verify",
        Some((Agency::Municipal, Mode::Callback)),
    ),
    (
        "health.certificates.verify",
        Some((Agency::Health, Mode::Callback)),
    ),
    ("cooperative.establishment.check", None),
];

#[test]
fn every_service_of_the_design_is_present_with_its_agency_and_mode() {
    for (name, expected) in DESIGN {
        let service = service(name);
        assert_eq!(service.name.as_str(), name);
        match (&service.kind, expected) {
            (ServiceKind::Agency { agency, mode }, Some((a, m))) => {
                assert_eq!((*agency, *mode), (a, m), "{name}");
                assert_eq!(service.agency(), Some(a));
            }
            (ServiceKind::Composite(_), None) => assert_eq!(service.agency(), None),
            (kind, _) => panic!("{name}: unexpected kind {kind:?}"),
        }
    }
    assert_eq!(catalogue().services().count(), DESIGN.len());
}

#[test]
fn services_are_listed_in_name_order() {
    let names: Vec<&str> = catalogue().services().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[test]
fn every_schema_file_is_used_and_therefore_compiled() {
    let mut used = BTreeSet::from([
        "catalogue.json".to_owned(),
        "catalogue.schema.json".to_owned(),
        // Compiled through the $refs of every service schema.
        "common.json".to_owned(),
    ]);
    for service in catalogue().services() {
        used.insert(service.input().file().to_owned());
        used.insert(service.output().file().to_owned());
    }
    for agency in Agency::ALL {
        if let Some(schema) = catalogue().callback_schema(agency) {
            used.insert(schema.file().to_owned());
        }
    }
    let embedded: BTreeSet<String> = bundled_files()
        .iter()
        .map(|(p, _)| (*p).to_owned())
        .collect();
    assert_eq!(embedded, used);
}

#[test]
fn only_callback_agencies_have_a_callback_schema() {
    for agency in Agency::ALL {
        let schema = catalogue().callback_schema(agency);
        match agency {
            Agency::Municipal => assert_eq!(schema.unwrap().file(), "callbacks/municipal.json"),
            Agency::Health => assert_eq!(schema.unwrap().file(), "callbacks/health.json"),
            _ => assert!(schema.is_none(), "{agency}"),
        }
    }
}

#[test]
fn schemas_are_given_as_written_for_the_api() {
    let post = service("post.address.verify");
    assert_eq!(post.input_schema, *post.input().document());
    assert_eq!(
        post.output_schema["$id"],
        "https://rabt-gateway.github.io/rabt/schemas/services/post.address.verify.output.json"
    );
    assert_eq!(
        post.input_schema["properties"]["shortAddress"]["$ref"],
        "../common.json#/$defs/shortAddress"
    );
}

#[test]
fn titles_and_policies_are_filled() {
    for service in catalogue().services() {
        let name = &service.name;
        for text in [&service.title, &service.description] {
            assert!(!text.en.is_empty() && !text.ar.is_empty(), "{name}");
        }
        assert!(service.deadline >= Duration::from_secs(1), "{name}");
        match service.kind {
            ServiceKind::Agency { .. } => assert!(service.retry.max_attempts() > 1, "{name}"),
            ServiceKind::Composite(_) => assert_eq!(service.retry.max_attempts(), 1, "{name}"),
        }
    }
}

#[test]
fn the_catalogue_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<rabt_catalogue::Catalogue>();
    shareable::<rabt_catalogue::Schema>();
    shareable::<rabt_catalogue::CatalogueError>();
}
