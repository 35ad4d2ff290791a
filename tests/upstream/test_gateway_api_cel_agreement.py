"""Gateway API's CEL validation tests: HTTPRoutes created on a real API server (envtest) with the standard CRDs.

Source: kubernetes-sigs/gateway-api@4564255ac2c3 tests/cel/httproute_test.go (TestHTTPPathMatch,
TestBackendObjectReference, TestHTTPRouteFilter, TestHTTPBackendRef, TestHTTPPathModifier). Each case is
the Go test's object as its JSON encoding sends it (a non-pointer field without omitempty is sent as its
zero value: HTTPRequestMirrorFilter{} is {"backendRef": {"name": ""}}), its verdict (an error or none),
and the error strings the test wants. The verdict must agree; each wanted string that is the message of
one of the CRD's CEL rules must also appear in mlkube's errors (messages of schema errors, such as
'supported values: ...', are the API server's own wording and only the verdict is compared).
"""

from __future__ import annotations

import json
from typing import Any

from agreement import Case, SuiteResult, run_suite

from mlkube.validation import SchemaCatalog, ValidationSettings
from mlkube.validation.schemas import BUILTIN_CRD_SCHEMAS

SOURCE = "kubernetes-sigs/gateway-api@4564255ac2c3:tests/cel/httproute_test.go#L{line}"
BACKEND = {"name": "test", "port": 8080}
MIRROR_ZERO = {"backendRef": {"name": ""}}  # &HTTPRequestMirrorFilter{} as Go encodes it


def _path_match(path: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"matches": [{"path": path}], "backendRefs": [BACKEND]}]}


def _backend(ref: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"backendRefs": [ref]}]}


def _filter(route_filter: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"filters": [route_filter]}]}


def _path_modifier(modifier: dict[str, Any]) -> dict[str, Any]:
    return _filter({"type": "RequestRedirect", "requestRedirect": {"path": modifier}})


MUST_ONLY = "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"
# (name, spec, wanted errors, line of the case in httproute_test.go)
TABLE: list[tuple[str, dict[str, Any], list[str], int]] = [
    # TestHTTPPathMatch
    ("path does not start with '/'", _path_match({"type": "PathPrefix", "value": "foo"}),
     ["value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"], 52),
    ("prefix /.", _path_match({"type": "PathPrefix", "value": "/."}), ["must not end with '/.' when type one of ['Exact', 'PathPrefix']"], 60),
    ("exact /./", _path_match({"type": "Exact", "value": "/foo/./bar"}), ["must not contain '/./' when type one of ['Exact', 'PathPrefix']"], 68),
    ("invalid type", _path_match({"type": "FooBar", "value": "/path"}), ['supported values: "Exact", "PathPrefix", "RegularExpression"'], 76),
    ("RegularExpression with /./", _path_match({"type": "RegularExpression", "value": "/foo/./bar"}), [], 84),
    ("valid prefix", _path_match({"type": "PathPrefix", "value": "/path"}), [], 91),
    ("special characters", _path_match({"type": "Exact", "value": "/abc/123'/a-b-c/d@gmail/%0A"}), [], 98),
    ("prefix /[]", _path_match({"type": "PathPrefix", "value": "/[]"}), [MUST_ONLY], 105),
    ("exact /^", _path_match({"type": "Exact", "value": "/^"}), [MUST_ONLY], 113),
    # TestBackendObjectReference
    ("default groupkind with port", _backend({"name": "backend", "port": 99}), [], 174),
    ("default groupkind without port", _backend({"name": "backend"}), ["Must have port for Service reference"], 181),
    ("explicit service with port", _backend({"group": "", "kind": "Service", "name": "backend", "port": 99}), [], 188),
    ("explicit service without port", _backend({"group": "", "kind": "Service", "name": "backend"}), ["Must have port for Service reference"], 197),
    ("explicit ref without port", _backend({"group": "foo.example.com", "kind": "Foo", "name": "backend"}), [], 206),
    # TestHTTPRouteFilter
    ("RequestHeaderModifier", _filter({"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "set": [{"name": "name", "value": "foo"}], "add": [{"name": "add", "value": "foo"}], "remove": ["remove"]}}), [], 244),
    ("RequestHeaderModifier with requestMirror", _filter({"type": "RequestHeaderModifier", "requestMirror": MIRROR_ZERO}),
     ["filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type",
      "filter.requestMirror must be nil if the filter.type is not RequestMirror"], 255),
    ("RequestHeaderModifier empty", _filter({"type": "RequestHeaderModifier"}),
     ["filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type"], 263),
    ("RequestMirror", _filter({"type": "RequestMirror", "requestMirror": {"backendRef": {
        "group": "group", "kind": "kind", "name": "name", "namespace": "ns", "port": 22}}}), [], 270),
    ("RequestMirror with requestHeaderModifier", _filter({"type": "RequestMirror", "requestHeaderModifier": {}}),
     ["filter.requestHeaderModifier must be nil if the filter.type is not RequestHeaderModifier",
      "filter.requestMirror must be specified for RequestMirror filter.type"], 283),
    ("RequestMirror empty", _filter({"type": "RequestMirror"}), ["filter.requestMirror must be specified for RequestMirror filter.type"], 291),
    ("RequestRedirect", _filter({"type": "RequestRedirect", "requestRedirect": {
        "scheme": "http", "hostname": "hostname", "path": {"type": "ReplaceFullPath", "replaceFullPath": "path"},
        "port": 8080, "statusCode": 302}}), [], 298),
    ("RequestRedirect with requestMirror", _filter({"type": "RequestRedirect", "requestMirror": MIRROR_ZERO}),
     ["filter.requestMirror must be nil if the filter.type is not RequestMirror",
      "filter.requestRedirect must be specified for RequestRedirect filter.type"], 314),
    ("RequestRedirect empty", _filter({"type": "RequestRedirect"}), ["filter.requestRedirect must be specified for RequestRedirect filter.type"], 322),
    ("ExtensionRef", _filter({"type": "ExtensionRef", "extensionRef": {"group": "group", "kind": "kind", "name": "name"}}), [], 329),
    ("ExtensionRef with requestMirror", _filter({"type": "ExtensionRef", "requestMirror": MIRROR_ZERO}),
     ["filter.requestMirror must be nil if the filter.type is not RequestMirror",
      "filter.extensionRef must be specified for ExtensionRef filter.type"], 340),
    ("ExtensionRef empty", _filter({"type": "ExtensionRef"}), ["filter.extensionRef must be specified for ExtensionRef filter.type"], 348),
    ("URLRewrite", _filter({"type": "URLRewrite", "urlRewrite": {
        "hostname": "hostname", "path": {"type": "ReplaceFullPath", "replaceFullPath": "path"}}}), [], 355),
    ("CORS with requestMirror", _filter({"type": "CORS", "requestMirror": MIRROR_ZERO}),
     ["filter.cors must be specified for CORS filter.type", "filter.requestMirror must be nil if the filter.type is not RequestMirror"], 368),
    ("CORS empty", _filter({"type": "CORS"}), ["filter.cors must be specified for CORS filter.type"], 376),
    ("CORS", _filter({"type": "CORS", "cors": {"allowOrigins": ["*"]}}), [], 383),
    ("URLRewrite with requestMirror", _filter({"type": "URLRewrite", "requestMirror": MIRROR_ZERO}),
     ["filter.requestMirror must be nil if the filter.type is not RequestMirror",
      "filter.urlRewrite must be specified for URLRewrite filter.type"], 392),
    ("URLRewrite empty", _filter({"type": "URLRewrite"}), ["filter.urlRewrite must be specified for URLRewrite filter.type"], 400),
    # TestHTTPBackendRef
    ("repeated URLRewrite and CORS in backendRefs", {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [{"name": "test-service", "port": 80, "filters": [
            {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "foo"}}},
            {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "bar"}}},
            {"type": "CORS", "cors": {"allowOrigins": ["http://foo.example.com"]}},
            {"type": "CORS", "cors": {"allowOrigins": ["http://bar.example.com"]}}]}]}]},
     ["CORS filter cannot be repeated", "URLRewrite filter cannot be repeated"], 1318),
    # TestHTTPPathModifier
    ("valid ReplaceFullPath", _path_modifier({"type": "ReplaceFullPath", "replaceFullPath": "foo"}), [], 1401),
    ("ReplaceFullPath without replaceFullPath", _path_modifier({"type": "ReplaceFullPath"}),
     ["replaceFullPath must be specified when type is set to 'ReplaceFullPath'"], 1408),
    ("replaceFullPath with type ReplacePrefixMatch", _path_modifier({"type": "ReplacePrefixMatch", "replaceFullPath": "foo"}),
     ["type must be 'ReplaceFullPath' when replaceFullPath is set"], 1415),
    ("valid ReplacePrefixMatch", _path_modifier({"type": "ReplacePrefixMatch", "replacePrefixMatch": "/foo"}), [], 1423),
    ("ReplacePrefixMatch without replacePrefixMatch", _path_modifier({"type": "ReplacePrefixMatch"}),
     ["replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'"], 1430),
    ("replacePrefixMatch with type ReplaceFullPath", _path_modifier({"type": "ReplaceFullPath", "replacePrefixMatch": "/foo"}),
     ["type must be 'ReplacePrefixMatch' when replacePrefixMatch is set"], 1437),
]

CASES = [Case(name, (spec, wanted), "invalid" if wanted else "valid", SOURCE.format(line=line)) for name, spec, wanted, line in TABLE]


def _rule_messages() -> set[str]:
    messages: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for rule in node.get("x-kubernetes-validations") or ():
                if isinstance(rule.get("message"), str):
                    messages.add(rule["message"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads((BUILTIN_CRD_SCHEMAS / "gateway.networking.k8s.io" / "httproute_v1.json").read_text()))
    return messages


def results() -> list[SuiteResult]:
    catalog = SchemaCatalog(ValidationSettings(strict_unknown_kinds=True))
    rule_messages = _rule_messages()

    def judge(case_input: tuple[dict[str, Any], list[str]]) -> str:
        spec, wanted = case_input
        route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                 "metadata": {"name": "foo", "namespace": "default"}, "spec": spec}
        messages = [issue.message for issue in catalog.validate(route)]
        if not messages:
            return "valid"
        missing = [want for want in wanted if want in rule_messages and not any(want in message for message in messages)]
        return f"invalid, but without {missing} (got {messages})" if missing else "invalid"

    return [run_suite("gateway-api-cel", CASES, judge)]


def test_agreement() -> None:
    for result in results():
        result.check(minimum=0.99)
        result.check_readme_row()
