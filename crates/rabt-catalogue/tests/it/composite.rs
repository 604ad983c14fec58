//! The composite declaration: the bundled one in typed form, building children's
//! inputs from it, and small inline catalogues whose declarations must be refused.

use std::time::Duration;

use rabt_catalogue::{Binding, Catalogue, CatalogueError, Source, SourceRoot, bundled_files};
use serde_json::{Value, json};

use crate::service;

#[test]
fn the_establishment_check_is_declared_as_the_design_says() {
    let spec = service("cooperative.establishment.check")
        .composite()
        .unwrap();
    let ids: Vec<&str> = spec.children().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "registry",
            "boardIdentity",
            "hqAddress",
            "municipalLicense",
            "chamberMembership",
            "laborCompliance"
        ]
    );
    let roots: Vec<&str> = spec.roots().map(|c| c.id.as_str()).collect();
    assert_eq!(roots, ["registry"]);
    assert_eq!(spec.dependents("registry").count(), 5);
    assert!(spec.children().iter().all(|c| c.required));

    let board = spec.child("boardIdentity").unwrap();
    assert_eq!(board.service.as_str(), "interior.identity.verify");
    let for_each = board.for_each.as_ref().unwrap();
    assert_eq!(
        (&for_each.root, for_each.pointer.as_str()),
        (&SourceRoot::Input, "/board")
    );

    let address = spec.child("hqAddress").unwrap();
    assert_eq!(address.deadline, Duration::from_secs(30));
    match &address.input["shortAddress"] {
        Binding::Read {
            source: Source { root, pointer },
            optional: false,
        } => {
            assert_eq!(root, &SourceRoot::Child("registry".into()));
            assert_eq!(pointer.as_str(), "/headquarters/shortAddress");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        spec.child("municipalLicense").unwrap().input["licenseType"],
        Binding::Value(json!("COMMERCIAL"))
    );
}

fn registry_example() -> &'static Value {
    &service("labor.cooperative.registration").output_schema["examples"][0]
}

#[test]
fn children_inputs_are_built_from_the_input_and_the_registry_record() {
    let composite = service("cooperative.establishment.check");
    let spec = composite.composite().unwrap();
    let input = &composite.input_schema["examples"][0];
    let output_of = |id: &str| (id == "registry").then(registry_example);

    let address = spec
        .child("hqAddress")
        .unwrap()
        .build_input(input, None, output_of)
        .unwrap();
    assert_eq!(address, json!({"shortAddress": "RRRD2929"}));
    let licence = spec
        .child("municipalLicense")
        .unwrap()
        .build_input(input, None, output_of)
        .unwrap();
    assert_eq!(
        licence,
        json!({"licenseNumber": "4000012345", "licenseType": "COMMERCIAL", "unifiedNumber": "7000000001"})
    );

    let board = spec.child("boardIdentity").unwrap();
    let members = board.items(input, output_of).unwrap().unwrap();
    assert_eq!(members.len(), 1);
    let identity = board
        .build_input(input, Some(&members[0]), output_of)
        .unwrap();
    assert_eq!(
        identity,
        json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}})
    );

    // Every child's input, so built, is valid for the service it calls.
    for child in spec.children() {
        let item = board
            .items(input, output_of)
            .unwrap()
            .map(|m| &m[0])
            .filter(|_| child.for_each.is_some());
        let built = child.build_input(input, item, output_of).unwrap();
        service(child.service.as_str())
            .validate_input(&built)
            .unwrap_or_else(|v| panic!("{}: {built}: {v:#?}", child.id));
    }
}

#[test]
fn an_absent_value_names_the_child_the_field_and_the_source() {
    let composite = service("cooperative.establishment.check");
    let spec = composite.composite().unwrap();
    let input = &composite.input_schema["examples"][0];
    let not_found = json!({"found": false});
    let err = spec
        .child("municipalLicense")
        .unwrap()
        .build_input(input, None, |_| Some(&not_found))
        .unwrap_err();
    assert_eq!(err.child, "municipalLicense");
    assert_eq!(err.field, "licenseNumber");
    assert_eq!(err.reads, "registry#/municipalLicenseNumber");
    let err = spec
        .child("boardIdentity")
        .unwrap()
        .items(&json!({}), |_| None)
        .unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.reads.as_str()),
        ("forEach", "input#/board")
    );
}

// ---- small inline catalogues ----

fn text() -> Value {
    json!({"en": "t", "ar": "ت"})
}

fn agency_service(name: &str, agency: &str) -> Value {
    json!({
        "name": name, "title": text(), "description": text(), "agency": agency, "mode": "sync",
        "deadlineMs": 10000,
        "retry": {"maxAttempts": 2, "initialBackoffMs": 100, "maxBackoffMs": 200, "multiplier": 2.0},
        "input": format!("services/{name}.input.json"),
        "output": format!("services/{name}.output.json")
    })
}

fn registry() -> Value {
    json!({"id": "registry", "service": "labor.cooperative.registration", "title": text(),
           "required": true, "deadlineMs": 10000,
           "input": {"unifiedNumber": {"from": "input", "pointer": "/unifiedNumber"}}})
}

fn address() -> Value {
    json!({"id": "address", "service": "post.address.verify", "title": text(),
           "required": false, "deadlineMs": 10000, "after": ["registry"],
           "input": {"shortAddress": {"from": "registry", "pointer": "/headquarters/shortAddress"}}})
}

fn identity() -> Value {
    json!({"id": "identity", "service": "interior.identity.verify", "title": text(),
           "required": true, "deadlineMs": 10000,
           "forEach": {"from": "input", "pointer": "/board"},
           "input": {"idNumber": {"from": "item", "pointer": "/idNumber"},
                     "birthDate": {"from": "item", "pointer": "/birthDate"}}})
}

/// A catalogue of three agency services and one composite of `children`.
fn small(children: Value) -> Result<Catalogue, CatalogueError> {
    let catalogue = json!({
        "version": 1,
        "services": [
            agency_service("labor.cooperative.registration", "labor"),
            agency_service("post.address.verify", "saudi-post"),
            agency_service("interior.identity.verify", "interior"),
            {
                "name": "test.small.check", "title": text(), "description": text(),
                "deadlineMs": 30000,
                "input": "services/cooperative.establishment.check.input.json",
                "output": "services/cooperative.establishment.check.output.json",
                "composite": {"children": children}
            }
        ]
    })
    .to_string();
    let schemas = bundled_files()
        .iter()
        .copied()
        .filter(|(p, _)| *p != "catalogue.json");
    Catalogue::from_files(schemas.chain([("catalogue.json", catalogue.as_str())]))
}

/// The message of a refused composite declaration.
fn refused(children: Value) -> String {
    match small(children) {
        Ok(_) => panic!("the declaration should be refused"),
        Err(e @ CatalogueError::Composite { .. }) => e.to_string(),
        Err(other) => panic!("refused for another reason: {other}"),
    }
}

#[test]
fn a_small_composite_loads() {
    let catalogue = small(json!([registry(), address(), identity()])).unwrap();
    let spec = catalogue
        .service("test.small.check")
        .unwrap()
        .composite()
        .unwrap();
    assert_eq!(spec.children().len(), 3);
    assert_eq!(catalogue.services().count(), 4);
}

#[test]
fn children_are_ordered_after_those_they_wait_for() {
    let catalogue = small(json!([address(), identity(), registry()])).unwrap();
    let spec = catalogue
        .service("test.small.check")
        .unwrap()
        .composite()
        .unwrap();
    let ids: Vec<&str> = spec.children().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["identity", "registry", "address"]);
}

#[test]
fn an_unknown_child_service_is_refused() {
    let mut child = registry();
    child["service"] = json!("labor.nothing.here");
    let message = refused(json!([child]));
    assert!(
        message.contains("child `registry` calls `labor.nothing.here`, which is not a service"),
        "{message}"
    );
    assert!(
        message.starts_with("catalogue.json: composite `test.small.check`"),
        "{message}"
    );
}

#[test]
fn a_composite_child_is_refused() {
    let mut child = registry();
    child["service"] = json!("test.small.check");
    assert!(refused(json!([child])).contains("is itself a composite"));
}

#[test]
fn a_cycle_is_refused_and_named() {
    let mut first = registry();
    first["after"] = json!(["address"]);
    let message = refused(json!([first, address()]));
    assert!(
        message.contains("cycle: registry → address → registry"),
        "{message}"
    );
}

#[test]
fn a_malformed_pointer_is_refused_at_the_pointer() {
    let mut child = address();
    child["input"]["shortAddress"]["pointer"] = json!("headquarters/shortAddress");
    let Err(CatalogueError::Shape { violations }) = small(json!([registry(), child])) else {
        panic!("a malformed pointer must be refused by catalogue.schema.json");
    };
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(
        violations[0].pointer,
        "/services/3/composite/children/1/input/shortAddress/pointer"
    );
    assert!(
        violations[0].message.en.contains("RFC 6901"),
        "{:?}",
        violations[0].message
    );
    for bad in ["/a~2", "/a~"] {
        let mut child = address();
        child["input"]["shortAddress"]["pointer"] = json!(bad);
        assert!(
            matches!(
                small(json!([registry(), child])),
                Err(CatalogueError::Shape { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn a_pointer_the_source_schema_does_not_declare_is_refused() {
    let mut child = address();
    child["input"]["shortAddress"]["pointer"] = json!("/headquarters/shortAdress");
    let message = refused(json!([registry(), child]));
    assert!(message.contains("reads registry#/headquarters/shortAdress, which `services/labor.cooperative.registration.output.json` does not declare"), "{message}");
    let mut child = identity();
    child["input"]["birthDate"]["pointer"] = json!("/birthDat");
    assert!(refused(json!([child])).contains("reads item#/birthDat"));
    let mut child = registry();
    child["input"]["unifiedNumber"]["pointer"] = json!("/unified");
    assert!(refused(json!([child])).contains("reads input#/unified"));
}

#[test]
fn reading_a_child_without_waiting_for_it_is_refused() {
    let mut child = address();
    child["after"] = json!([]);
    assert!(
        refused(json!([registry(), child]))
            .contains("reads the output of `registry` but does not wait for it")
    );
}

#[test]
fn reading_item_without_for_each_is_refused() {
    let mut child = identity();
    child.as_object_mut().unwrap().remove("forEach");
    assert!(refused(json!([child])).contains("reads `item` but the child has no `forEach`"));
}

#[test]
fn unknown_waits_and_duplicate_ids_are_refused() {
    let mut child = address();
    child["after"] = json!(["registry", "nobody"]);
    assert!(
        refused(json!([registry(), child])).contains("waits for `nobody`, which is not a child")
    );
    assert!(
        refused(json!([registry(), registry()])).contains("two children have the id `registry`")
    );
    let mut child = address();
    child["input"]["shortAddress"]["from"] = json!("nobody");
    assert!(refused(json!([registry(), child])).contains("reads `nobody`, which is neither"));
}

#[test]
fn input_fields_must_match_the_child_service() {
    let mut child = address();
    child["input"]["shortAddres"] = child["input"]["shortAddress"].take();
    child["input"]
        .as_object_mut()
        .unwrap()
        .remove("shortAddress");
    assert!(
        refused(json!([registry(), child]))
            .contains("`shortAddres` is not a field of `post.address.verify`'s input")
    );
    let mut child = identity();
    child["input"].as_object_mut().unwrap().remove("birthDate");
    assert!(refused(json!([child])).contains("`interior.identity.verify` requires `birthDate`"));
}

#[test]
fn a_chain_of_deadlines_longer_than_the_composite_is_refused() {
    let mut child = address();
    child["deadlineMs"] = json!(25000);
    let message = refused(json!([registry(), child]));
    assert!(message.contains("the chain registry → address needs 35000 ms, more than the composite's deadline of 30000 ms"), "{message}");
}

#[test]
fn reserved_ids_are_refused() {
    let mut child = registry();
    child["id"] = json!("input");
    let Err(CatalogueError::Shape { violations }) = small(json!([child])) else {
        panic!("`input` is reserved");
    };
    assert_eq!(violations[0].pointer, "/services/3/composite/children/0/id");
}
