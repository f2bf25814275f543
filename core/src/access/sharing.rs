//! Which documents cross teams. A device in two teams (a link worker serving two primary
//! care networks) keeps each team's case files and plans apart: only a community asset
//! directory is shared across teams, by staff of both.

use super::TeamAccess;
use crate::model::doc::DocKind;
use crate::{Error, Result};

/// Whether a document of `kind` may be shared from its team (`home`, where this device
/// has `home_access`) into another (`into`): only a directory, and only by a member of both
/// teams' staff.
pub fn may_share(kind: DocKind, home: Option<&TeamAccess>, into: &TeamAccess) -> Result<()> {
    into.require_staff()?;
    if !crosses_teams(kind) {
        return Err(Error::NotAllowed(
            "only a directory is shared across teams: case files and plans stay in theirs".into(),
        ));
    }
    let Some(home) = home else {
        return Err(Error::NotAllowed(
            "the directory is not in a team yet".into(),
        ));
    };
    home.require_staff()?;
    Ok(())
}

/// Whether a document of `kind` may live in more than one team: only a directory. A case
/// file or a plan arriving through a second team is refused (it would leak between teams).
pub fn crosses_teams(kind: DocKind) -> bool {
    kind == DocKind::Directory
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::TeamId;
    use holdfast_protocol::Role;

    fn member(role: Option<Role>) -> TeamAccess {
        let mut a = TeamAccess::new(TeamId::random());
        a.role = role;
        a
    }

    #[test]
    fn only_staff_of_both_teams_share_only_a_directory() {
        let (staff, other_staff) = (member(Some(Role::LinkWorker)), member(Some(Role::Admin)));
        assert!(may_share(DocKind::Directory, Some(&staff), &other_staff).is_ok());
        for kind in [DocKind::CaseFile, DocKind::ActionPlan] {
            assert!(matches!(
                may_share(kind, Some(&staff), &other_staff),
                Err(Error::NotAllowed(_))
            ));
            assert!(!crosses_teams(kind));
        }
        let patient = member(Some(Role::Patient));
        assert!(may_share(DocKind::Directory, Some(&patient), &other_staff).is_err());
        assert!(may_share(DocKind::Directory, Some(&staff), &patient).is_err());
        assert!(may_share(DocKind::Directory, None, &other_staff).is_err());
        assert!(crosses_teams(DocKind::Directory));
    }
}
