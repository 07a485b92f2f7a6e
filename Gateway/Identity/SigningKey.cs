namespace Gateway.Identity;

/// <summary>A usable key: the kid, its public parameters for the JWKS, and the signer.</summary>
internal sealed record SigningKey(string Kid, DateTimeOffset ActivatesAt, System.Security.Cryptography.ECDsa Algorithm, string X, string Y);
