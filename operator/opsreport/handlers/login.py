"""kopf logs in with the credentials our own client uses (kubeauth): found one way, with no
Kubernetes client library. Registering any login handler turns kopf's own ones off (they are
fallbacks, used only when no regular login handler exists)."""

from __future__ import annotations

from typing import Any

import aiohttp
import kopf

from opsreport import kubeauth
from opsreport.config import OperatorConfig
from opsreport.kubeauth import Credentials, KubeAuthError

# An exec plugin that fails on a re-login may recover (its identity provider was down); after
# this many attempts, kopf stops the operator rather than run it logged out.
LOGIN_RETRIES = 6
LOGIN_DELAY = 10.0


@kopf.on.login(id="kubeauth", retries=LOGIN_RETRIES)
async def login(
    memo: kopf.Memo, settings: kopf.OperatorSettings, **_: Any
) -> kopf.ConnectionInfo | kopf.AiohttpSession:
    # The startup handler (which kopf runs first) made our client; sharing its source means one
    # exec plugin run, one token file read, for both clients.
    operator = getattr(memo, "operator", None)
    try:
        if operator is not None:
            source = operator.kube.source
            if getattr(memo, "logged_in", False):
                # kopf logs in again after a 401 or at `expiration`: fetch anew.
                source.invalidate()
        else:
            source = kubeauth.load(OperatorConfig.from_env().kubeconfig)
        credentials = await source.credentials()
    except KubeAuthError as error:
        raise kopf.TemporaryError(f"cannot log in: {error}", delay=LOGIN_DELAY) from None
    memo.logged_in = True
    return connection_info(credentials, trust_env=settings.networking.trust_env)


def connection_info(
    credentials: Credentials, *, trust_env: bool = False
) -> kopf.ConnectionInfo | kopf.AiohttpSession:
    """kopf's form of the credentials. A file-backed token has no expiration: kopf keeps it until
    the API server answers 401, then logs in again, which re-reads the file."""
    if credentials.tls_server_name:
        # ConnectionInfo has no field for tls-server-name: hand kopf a session whose TLS context
        # verifies that name (kopf closes the session when it drops these credentials).
        headers = {"Authorization": credentials.authorization} if credentials.authorization else {}
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=kubeauth.ssl_context(credentials)),
            headers=headers,
            proxy=credentials.proxy_url,
            trust_env=trust_env,
        )
        return kopf.AiohttpSession(
            server=credentials.server,
            default_namespace=credentials.namespace,
            expiration=credentials.expiration,
            aiohttp_session=session,
        )
    return kopf.ConnectionInfo(
        server=credentials.server,
        # PEM text: kopf passes PEM through as it is and base64-decodes anything else.
        ca_data=credentials.ca_data,
        insecure=credentials.insecure,
        scheme="Bearer" if credentials.token else None,
        token=credentials.token,
        certificate_data=credentials.client_cert,
        private_key_data=credentials.client_key,
        username=credentials.username,
        password=credentials.password,
        default_namespace=credentials.namespace,
        proxy_url=credentials.proxy_url,
        trust_env=trust_env,
        expiration=credentials.expiration,
    )
