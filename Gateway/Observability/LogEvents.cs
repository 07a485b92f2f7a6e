namespace Gateway.Observability;

/// <summary>
/// Every log event of the gateway, declared once: the id here, the name is the constant's name
/// (<c>EventName = nameof(...)</c>). Names are stable; keep them. A test checks ids and names are unique.
/// </summary>
internal static class LogEvents
{
    public const int LoginSucceeded = 1000;
    public const int LoginFailed = 1001;
    public const int LoginRateLimited = 1002;
    public const int OidcLoginFailed = 1003;
    public const int StepUpRequired = 1004;
    public const int StepUpNotConfirmed = 1005;
    public const int LogoutCompleted = 1100;
    public const int LogoutStoreUnavailable = 1101;
    public const int LogoutConfirmationShown = 1102;
    public const int BackchannelLogout = 1103;
    public const int BackchannelLogoutRejected = 1104;
    public const int LegacySessionPurged = 1105;
    public const int ProviderSignOutSkipped = 1106;
    public const int ProviderSignOutWithoutHint = 1107;
    public const int SessionRevoked = 1200;
    public const int SessionCookieRejected = 1201;
    public const int SessionCacheDistrusted = 1202;
    public const int SessionCacheTrusted = 1203;
    public const int SessionStoreUnavailable = 1204;
    public const int SessionTouchFailed = 1205;
    public const int SessionRefreshFailed = 1206;
    public const int SessionRefreshLookFailed = 1207;
    public const int SessionChangeLogAnchored = 1208;
    public const int SessionChangeLogBroken = 1209;
    public const int SessionChangeLogReadFailed = 1213;
    public const int UserSessionsRevoked = 1210;
    public const int AllSessionsRevoked = 1211;
    public const int SessionCapReached = 1212;
    public const int ConfigReloaded = 1300;
    public const int ConfigReloadFailed = 1301;
    public const int ConfigReloadCrashed = 1302;
    public const int RedisUnavailable = 1400;
    public const int RedisRestored = 1401;
    public const int RedisWritesUnreplicated = 1402;
    public const int RedisWritesReplicated = 1403;
    public const int RedisWriteNotAcknowledged = 1404;
    public const int RedisSentinelUnavailable = 1405;
    public const int RedisPrimarySwitched = 1406;
    public const int RedisWaitNotPermitted = 1407;
    public const int SigningKeyCreated = 1500;
    public const int SigningKeyRefreshFailed = 1501;
    public const int KeyRingElementRejected = 1510;
    public const int KeyRingRefreshFailed = 1511;
    public const int AdminRevocation = 1600;
    public const int AdminDenied = 1601;
    public const int IdentityHeadersStripped = 1700;
    public const int RequestBodyRefused = 1710;
    public const int LiveConnectionClosed = 1800;
    public const int AccessTokenRefreshed = 1900;
    public const int AccessTokenRefreshRefused = 1901;
    public const int AccessTokenRefreshUnavailable = 1902;
    public const int RefreshTokenRevocationFailed = 1903;
    public const int WarmUpFinished = 2000;
    public const int WarmUpSkipped = 2001;
    public const int WarmUpProgress = 2002;
    public const int WarmUpRoutesRemoved = 2003;
    public const int WarmUpRoutesStillListed = 2004;
    public const int CmsSignedIn = 2100;
    public const int CmsSignInRefused = 2101;
    public const int CmsSessionRewritten = 2102;
    public const int CmsSessionEnded = 2103;
    public const int CmsSessionEndFailed = 2104;
    public const int CmsSessionAdopted = 2105;
    public const int CmsAdoptionRefused = 2106;
    public const int CmsSessionFollowed = 2107;
    public const int CmsStoreUnavailable = 2108;
    public const int CmsSessionsSwept = 2109;
    public const int CmsSweepFailed = 2110;
    public const int CmsSessionsEndedWithAll = 2111;
}
