"""The test server's login endpoints: SOAP ``login()`` and the OAuth 2.0 token endpoint.

SOAP (SOAP API Developer Guide, "login()"): the password element holds password + security
token; success returns ``sessionId`` and ``serverUrl``; failure is an HTTP 500 SOAP fault with
``sf:exceptionCode`` ``INVALID_LOGIN``. OAuth (Salesforce Help, client credentials and JWT bearer
flows): success returns ``access_token`` and ``instance_url``; failure is HTTP 400 with
``error``/``error_description``.
"""

from __future__ import annotations

import base64
import html
import re
import time
from urllib.parse import parse_qs

import jwt
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .state import ORG_ID, USER_ID, ServerState

_SOAP_NS = 'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."


def _element(body: str, name: str) -> str | None:
    match = re.search(rf"<(?:\w+:)?{name}>(.*?)</(?:\w+:)?{name}>", body, re.DOTALL)
    return html.unescape(match[1]) if match else None


def _soap_fault(code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope {_SOAP_NS} '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring>"
        f'<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
        "</soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status_code=500, media_type="text/xml")


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=400)


def _token(state: ServerState) -> JSONResponse:
    session_id = state.new_session()
    return JSONResponse({
        "access_token": session_id, "instance_url": state.base_url, "token_type": "Bearer",
        "id": f"{state.base_url}/id/{ORG_ID}/{USER_ID}", "issued_at": str(int(time.time() * 1000)),
        "signature": base64.b64encode(b"test-signature").decode(),
    })  # fmt: skip


def login_router(state: ServerState) -> APIRouter:
    """Routes ``POST /services/Soap/u/<version>`` and ``POST /services/oauth2/token``."""
    router = APIRouter()

    @router.post("/services/Soap/u/{version}")
    async def soap_login(version: str, request: Request) -> Response:
        body = (await request.body()).decode()
        expected = state.credentials
        username, password = _element(body, "username"), _element(body, "password")
        if username != expected.username or password != expected.password + expected.security_token:
            return _soap_fault("INVALID_LOGIN", _INVALID_LOGIN)
        server_url = f"{state.base_url}/services/Soap/u/{version}/{ORG_ID}"
        result = (
            f"<metadataServerUrl>{state.base_url}/services/Soap/m/{version}/{ORG_ID}</metadataServerUrl>"
            f"<passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>{server_url}</serverUrl>"
            f"<sessionId>{state.new_session()}</sessionId><userId>{USER_ID}</userId>"
        )
        envelope = (
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope {_SOAP_NS} xmlns="urn:partner.soap.sforce.com">'
            f"<soapenv:Body><loginResponse><result>{result}</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Response(envelope, media_type="text/xml")

    @router.post("/services/oauth2/token")
    async def oauth_token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        expected = state.credentials
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if (form.get("client_id"), form.get("client_secret")) != (expected.consumer_key, expected.consumer_secret):
                return _oauth_error("invalid_client", "invalid client credentials")
            return _token(state)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" and expected.jwt_public_key is not None:
            try:
                claims = jwt.decode(
                    form.get("assertion", ""), expected.jwt_public_key, algorithms=["RS256"],
                    audience=state.base_url, issuer=expected.consumer_key,
                )  # fmt: skip
            except jwt.PyJWTError as exc:
                return _oauth_error("invalid_grant", f"invalid assertion: {type(exc).__name__}")
            if claims.get("sub") != expected.username:
                return _oauth_error("invalid_grant", "user hasn't approved this consumer")
            return _token(state)
        return _oauth_error("unsupported_grant_type", f"grant type not supported: {grant}")

    return router
