//! Installing CustomResourceDefinitions: server-side apply (so installing twice is harmless),
//! then wait until each reports `Established`, after which its resources can be created.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::Error;

/// The field manager of everything the test cluster applies.
const FIELD_MANAGER: &str = "switchyard-test-cluster";

/// How long a CRD may take to become Established.
const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies `crds` and waits until every one is Established.
pub async fn install_crds(
    client: &kube::Client,
    crds: &[CustomResourceDefinition],
) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::with_capacity(crds.len());
    for crd in crds {
        let name = crd.metadata.name.clone().ok_or(Error::UnnamedCrd)?;
        // k8s-openapi writes apiVersion and kind, which server-side apply needs in the body.
        let body = serde_json::to_value(crd).map_err(|source| Error::SerializeCrd {
            name: name.clone(),
            source,
        })?;
        api.patch(&name, &params, &Patch::Apply(&body))
            .await
            .map_err(Error::kube(format!("apply CRD {name}")))?;
        names.push(name);
    }
    for name in names {
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        match tokio::time::timeout(ESTABLISHED_TIMEOUT, established).await {
            Ok(Ok(_)) => {}
            Ok(Err(source)) => return Err(Error::CrdWatch { name, source }),
            Err(_) => {
                return Err(Error::CrdNotEstablished {
                    name,
                    timeout: ESTABLISHED_TIMEOUT,
                });
            }
        }
    }
    Ok(())
}

/// Switchyard's own CRDs (AIModel, AIRoute, AIPolicy), as the crds crate defines them.
pub fn switchyard_crds() -> Vec<CustomResourceDefinition> {
    switchyard_crds::crd_definitions()
}
