//! The fields of each resource kind, one module per kind (see [`super::resource`]).

pub mod integration;
pub mod phone_number;
pub mod sip_trunk;
pub mod squad;
pub mod stored;
pub mod workflow;

#[cfg(test)]
mod tests {
    use super::integration::Integration;
    use super::phone_number::PhoneNumber;
    use super::sip_trunk::SipTrunk;
    use super::squad::Squad;
    use super::stored::{KnowledgeFile, Recording};
    use super::workflow::Workflow;
    use crate::domain::ids::TypedId;
    use crate::domain::policy::ActionMarker;
    use crate::domain::resource::{ResourceKind, ResourceSpec};

    /// What a spec's types say, for comparing with the registry.
    fn declared<S: ResourceSpec>() -> (
        ResourceKind,
        &'static str,
        [crate::domain::policy::Action; 2],
    ) {
        (S::KIND, S::Id::PREFIX, [S::Read::ACTION, S::Manage::ACTION])
    }

    #[test]
    fn every_kind_has_one_spec_that_agrees_with_the_registry() {
        let specs = [
            declared::<PhoneNumber>(),
            declared::<SipTrunk>(),
            declared::<Squad>(),
            declared::<Workflow>(),
            declared::<Integration>(),
            declared::<KnowledgeFile>(),
            declared::<Recording>(),
        ];
        for kind in ResourceKind::all() {
            let info = kind.info();
            let matching: Vec<_> = specs.iter().filter(|(k, _, _)| *k == kind).collect();
            assert_eq!(matching.len(), 1, "{kind:?}");
            let (_, prefix, actions) = matching[0];
            assert_eq!(*prefix, info.id_prefix, "{kind:?}");
            assert_eq!(*actions, [info.read, info.manage], "{kind:?}");
        }
    }

    #[test]
    fn the_resources_page_lists_every_kind() {
        let page = include_str!("../../../docs/RESOURCES.md");
        for kind in ResourceKind::all() {
            let info = kind.info();
            let row = format!(
                "| {} | `{}` | `{}_` |",
                info.noun, info.path, info.id_prefix
            );
            assert!(page.contains(&row), "docs/RESOURCES.md lacks {row}");
        }
    }
}
