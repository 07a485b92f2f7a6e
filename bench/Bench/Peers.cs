using System.Diagnostics;

namespace Bench;

/// <summary>The servers measured beside the gateway, each configured the way its users would run it, on loopback.</summary>
internal static class Peers
{
    public static readonly string Page = "<!doctype html><title>bench</title>" + new string('x', 512);

    /// <summary>nginx answering every request itself (one worker): the upstream every proxy here forwards to.</summary>
    public static Process StartUpstream(string work, int port) => StartNginx(work, "upstream", port, $$"""
        location / { default_type text/html; return 200 "{{Page}}"; }
        """);

    /// <summary>nginx as a plain reverse proxy with keep-alive upstream connections: the floor a proxy written in C reaches here.</summary>
    public static Process StartNginxProxy(string work, int port, int upstreamPort) => StartNginx(work, "proxy", port, $$"""
        location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
        """, $"upstream up {{ server 127.0.0.1:{upstreamPort}; keepalive 64; }}");

    private static Process StartNginx(string work, string name, int port, string location, string extra = "")
    {
        var dir = Path.Combine(work, "nginx-" + name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            worker_processes 1; daemon off; pid {{dir}}/nginx.pid; error_log stderr error;
            events { worker_connections 4096; }
            http {
              access_log off; keepalive_requests 1000000;
              client_body_temp_path {{dir}}/body; proxy_temp_path {{dir}}/proxy; fastcgi_temp_path {{dir}}/fcgi; uwsgi_temp_path {{dir}}/uwsgi; scgi_temp_path {{dir}}/scgi;
              {{extra}}
              server { listen 127.0.0.1:{{port}}; {{location}} }
            }
            """);
        return Processes.Start("nginx", ["-p", dir, "-c", Path.Combine(dir, "nginx.conf")]);
    }

    public static Process StartRedis(string work, int port) =>
        Processes.Start("redis-server", ["--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work], echoErrors: false);

    /// <summary>YARP with nothing in front of it, built the way the gateway is (same host builder, same YARP version).</summary>
    public static Process StartBareYarp(int port, string upstream, string? editsFile = null) =>
        Processes.Start("dotnet", [typeof(Peers).Assembly.Location, "serve-bare-proxy", $"{port}", upstream, .. editsFile is null ? Array.Empty<string>() : [editsFile]]);

    /// <summary>The rig's node oidc-provider, with one client for the Apache peer.</summary>
    public static Process StartIdentityProvider(string root, int port, string redirectUri) =>
        Processes.Start("node", [Path.Combine(root, "Gateway.Tests", "Rig", "node", "idp.mjs")], new Dictionary<string, string>
        {
            ["PORT"] = $"{port}", ["CLIENT_ID"] = "apache", ["CLIENT_SECRET"] = "apache-bench-secret", ["REDIRECT_URIS"] = redirectUri,
        }, Path.Combine(root, "Gateway.Tests", "Rig", "node"), echoErrors: false);

    /// <summary>
    /// Apache httpd 2.4 (event MPM) with mod_auth_openidc: code flow with PKCE against the provider, server-side
    /// sessions in the same Redis, claims and the id_token passed upstream as headers: what a team would otherwise
    /// deploy in front of the CMS.
    /// </summary>
    public static Process StartApache(string work, int port, int idpPort, int redisPort, int upstreamPort)
    {
        var dir = Path.Combine(work, "apache");
        Directory.CreateDirectory(dir);
        // Its workers run as www-data and must write here.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, (UnixFileMode)0x1FF);
        const string modules = "/usr/lib/apache2/modules";
        File.WriteAllText(Path.Combine(dir, "httpd.conf"), $"""
            ServerRoot {dir}
            PidFile {dir}/httpd.pid
            ServerName 127.0.0.1
            Listen 127.0.0.1:{port}
            LoadModule mpm_event_module {modules}/mod_mpm_event.so
            LoadModule authn_core_module {modules}/mod_authn_core.so
            LoadModule authz_core_module {modules}/mod_authz_core.so
            LoadModule authz_user_module {modules}/mod_authz_user.so
            LoadModule proxy_module {modules}/mod_proxy.so
            LoadModule proxy_http_module {modules}/mod_proxy_http.so
            LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
            User www-data
            Group www-data
            ErrorLog /dev/stderr
            LogLevel error
            StartServers 1
            ServerLimit 2
            ThreadsPerChild 64
            MaxRequestWorkers 128
            KeepAliveTimeout 60
            MaxKeepAliveRequests 0
            OIDCProviderMetadataURL http://127.0.0.1:{idpPort}/.well-known/openid-configuration
            OIDCClientID apache
            OIDCClientSecret apache-bench-secret
            OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
            OIDCCryptoPassphrase bench-only-passphrase
            OIDCProviderTokenEndpointAuth client_secret_post
            OIDCPKCEMethod S256
            OIDCScope "openid email profile roles"
            OIDCSessionType server-cache
            OIDCCacheType redis
            OIDCRedisCacheServer 127.0.0.1:{redisPort}
            OIDCPassClaimsAs headers
            OIDCPassIDTokenAs serialized
            OIDCSessionInactivityTimeout 3600
            <Location /protected>
              AuthType openid-connect
              Require valid-user
            </Location>
            ProxyPass /protected/ http://127.0.0.1:{upstreamPort}/ keepalive=On
            """);
        return Processes.Start("/usr/sbin/apache2", ["-f", Path.Combine(dir, "httpd.conf"), "-DFOREGROUND"]);
    }
}
