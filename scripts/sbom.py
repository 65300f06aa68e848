#!/usr/bin/env python3
"""The image's CycloneDX 1.5 SBOM (JSON) from Cargo.lock: every locked package with its version,
licence (cargo metadata's `license`, or its `license_file`), purl pkg:cargo/NAME@VERSION, source
and SHA-256 checksum, and the dependency graph. Reproducible: no clock (the timestamp is
SOURCE_DATE_EPOCH, default the last commit's time), the serial number derives from Cargo.lock.

    scripts/sbom.py OUT.json        (scripts/image.sh writes $TARGET/image/sbom.cdx.json)
"""
import datetime, hashlib, json, os, subprocess, sys, tomllib, uuid

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1]
lock_bytes = open(os.path.join(root, "Cargo.lock"), "rb").read()
lock = tomllib.loads(lock_bytes.decode())
meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--locked"],
    cwd=root, check=True, capture_output=True).stdout)
by_id = {(p["name"], p["version"]): p for p in meta["packages"]}
root_pkg = next(p for p in meta["packages"] if p["id"] == meta["resolve"]["root"]) \
    if meta["resolve"]["root"] else None


def purl(name, version):
    return f"pkg:cargo/{name}@{version}"


def licenses(name, version):
    p = by_id.get((name, version), {})
    if p.get("license"):
        return [{"expression": p["license"].replace("/", " OR ")}]
    if p.get("license_file"):
        return [{"license": {"name": "LicenseRef-file " + p["license_file"]}}]
    return []


epoch = os.environ.get("SOURCE_DATE_EPOCH") or subprocess.run(
    ["git", "log", "-1", "--format=%ct"], cwd=root, capture_output=True, text=True).stdout.strip() or "0"
timestamp = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

components, dependencies = [], []
locked = {(p["name"], p["version"]) for p in lock["package"]}
for p in sorted(lock["package"], key=lambda p: (p["name"], p["version"])):
    name, version = p["name"], p["version"]
    ref = purl(name, version)
    deps = []
    for d in p.get("dependencies", []):
        parts = d.split(" ")
        if len(parts) >= 2:
            deps.append(purl(parts[0], parts[1]))
        else:
            [v] = [v for (n, v) in locked if n == parts[0]]
            deps.append(purl(parts[0], v))
    dependencies.append({"ref": ref, "dependsOn": sorted(deps)})
    if root_pkg and name == root_pkg["name"] and version == root_pkg["version"]:
        continue
    c = {"type": "library", "bom-ref": ref, "name": name, "version": version, "purl": ref,
         "licenses": licenses(name, version)}
    if "checksum" in p:
        c["hashes"] = [{"alg": "SHA-256", "content": p["checksum"]}]
    if "source" in p:
        c["externalReferences"] = [{"type": "distribution", "url": p["source"]}]
    components.append(c)

bom = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "serialNumber": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_OID, hashlib.sha256(lock_bytes).hexdigest())),
    "version": 1,
    "metadata": {
        "timestamp": timestamp,
        "tools": {"components": [{"type": "application", "name": "connect-gr scripts/sbom.py"}]},
        "component": {"type": "application", "bom-ref": purl(root_pkg["name"], root_pkg["version"]),
                      "name": root_pkg["name"], "version": root_pkg["version"],
                      "purl": purl(root_pkg["name"], root_pkg["version"]),
                      "licenses": licenses(root_pkg["name"], root_pkg["version"])},
    },
    "components": components,
    "dependencies": dependencies,
}
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
with open(out + ".tmp", "w") as f:
    json.dump(bom, f, indent=1, sort_keys=True)
    f.write("\n")
os.replace(out + ".tmp", out)
print(f"sbom: {out} ({len(components)} components)", file=sys.stderr)
