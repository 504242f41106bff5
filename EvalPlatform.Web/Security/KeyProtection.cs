using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Web.Security;

/// <summary>
/// <c>DataProtection:CertificatePath</c> (a PKCS#12 file) and <c>DataProtection:CertificatePassword</c>: when set, the Data
/// Protection key ring (stored in the database; it encrypts webhook and channel secrets) is itself encrypted at rest with
/// the certificate's key, so a copy of the database alone opens nothing. Every node needs the same certificate. Replacing
/// it needs the old one to read the keys it encrypted: keep it until those keys have expired (90 days by default).
/// </summary>
public static class KeyProtection
{
    public const string SectionName = "DataProtection";

    public static WebApplicationBuilder AddKeyProtection(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(SectionName);
        if (section["CertificatePath"] is not { Length: > 0 } path)
        {
            return builder;
        }

        var certificate = File.Exists(path)
            ? X509CertificateLoader.LoadPkcs12FromFile(path, section["CertificatePassword"], X509KeyStorageFlags.EphemeralKeySet)
            : throw new InvalidOperationException($"{SectionName}:CertificatePath: no file at '{path}'.");
        if (!certificate.HasPrivateKey)
        {
            throw new InvalidOperationException($"{SectionName}:CertificatePath: '{path}' holds no private key, so the keys it encrypts could not be read back.");
        }

        // Encrypt new keys with it; decrypt with it without a certificate store (Linux containers have none to speak of).
        builder.Services.AddDataProtection().ProtectKeysWithCertificate(certificate).UnprotectKeysWithAnyCertificate(certificate);
        return builder;
    }
}
