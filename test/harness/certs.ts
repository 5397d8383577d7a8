import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ControlPlaneCerts {
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly saKey: string;
}

const openssl = (dir: string, args: string[]): void => {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
};

/**
 * Generates, per run, everything kube-apiserver needs (as envtest does): a CA, a serving
 * certificate for 127.0.0.1/localhost signed by it, an admin client certificate (O=system:masters)
 * and a service-account signing key. EC P-256 keys keep this fast.
 */
export function generateCerts(dir: string): ControlPlaneCerts {
  const p = (f: string): string => join(dir, f);
  const key = (f: string): void => openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f]);
  key("ca.key");
  openssl(dir, ["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj", "/CN=vmdr-test-ca", "-out", "ca.crt"]);

  key("serving.key");
  writeFileSync(p("serving.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl(dir, ["req", "-new", "-key", "serving.key", "-subj", "/CN=kube-apiserver", "-out", "serving.csr"]);
  openssl(dir, ["x509", "-req", "-in", "serving.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "serving.ext", "-out", "serving.crt"]);

  key("admin.key");
  writeFileSync(p("client.ext"), "extendedKeyUsage=clientAuth\n");
  openssl(dir, ["req", "-new", "-key", "admin.key", "-subj", "/O=system:masters/CN=admin", "-out", "admin.csr"]);
  openssl(dir, ["x509", "-req", "-in", "admin.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "client.ext", "-out", "admin.crt"]);

  key("sa.key");
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
  };
}
