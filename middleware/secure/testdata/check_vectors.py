# An independent implementation of the envelope in docs/security.md (Python,
# package "cryptography"), checking the Go test vectors:
#   python3 middleware/secure/testdata/check_vectors.py middleware/secure/testdata/vectors.json
import json, base64, struct, hmac, hashlib, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
b=lambda s: base64.b64decode(s)
def field(x):
    if isinstance(x,str): x=x.encode()
    return struct.pack(">I",len(x))+x
vf=json.load(open(sys.argv[1]))
for v in vf["encryption"]:
    key=b(v["key"]); md=v["sealed_metadata"]
    assert md["bk-enc"]=="v1.aes-256-gcm"
    kid=md["bk-enc-kid"]
    def aad(part): return field("brokerkit-enc")+field("v1.aes-256-gcm")+field(kid)+field(part)+field(v["topic"])+field(v["id"])+field(v["message_key"])
    p=b(v["sealed_payload"])
    plain=AESGCM(key).decrypt(p[:12],p[12:],aad("payload"))
    assert plain==b(v["payload"]), v["name"]
    out={k:val for k,val in md.items() if not k.startswith("bk-enc")}
    if "bk-enc-md" in md:
        s=b(md["bk-enc-md"]); hp=AESGCM(key).decrypt(s[:12],s[12:],aad("metadata"))
        n=struct.unpack(">I",hp[:4])[0]; i=4
        for _ in range(n):
            l=struct.unpack(">I",hp[i:i+4])[0]; name=hp[i+4:i+4+l].decode(); i+=4+l
            l=struct.unpack(">I",hp[i:i+4])[0]; val=hp[i+4:i+4+l].decode(); i+=4+l
            out[name]=val
        assert i==len(hp)
    assert out==v["metadata"], (v["name"], out)
    print("opened:", v["name"])
for v in vf["signatures"]:
    md=v["signed_metadata"]; names=json.loads(md["bk-sig-md"])
    s=field("brokerkit-sig")+field(md["bk-sig-alg"])+field(md["bk-sig-kid"])+field(v["topic"])+field(v["id"])+field(v["message_key"])
    s+=struct.pack(">I",len(names))+b"".join(field(n)+field(md[n]) for n in names)+field(b(v["payload"]))
    assert s==b(v["signed_bytes"]), v["name"]
    sig=b(md["bk-sig"])
    if md["bk-sig-alg"]=="v1.ed25519":
        Ed25519PublicKey.from_public_bytes(b(v["public_key"])).verify(sig,s)
        assert Ed25519PrivateKey.from_private_bytes(b(v["key"])).sign(s)==sig
    else:
        assert hmac.compare_digest(hmac.new(b(v["key"]),s,hashlib.sha256).digest(),sig)
    print("verified:", v["name"])
