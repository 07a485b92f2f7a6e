namespace Gateway.Tests.Routing;

/// <summary>Broken route files every test of the route file uses: (case name, content, the exact problem reported).</summary>
internal static class RouteFileRules
{
    private const string GoodCluster = """ "Clusters": { "cms": { "Destinations": { "a": { "Address": "http://127.0.0.1:9/" } } } } """;

    public static TheoryData<string, string, string> Broken => new()
    {
        { "truncated-json", """{ "ReverseProxy": { "Routes": { "a": { "ClusterId": "cms" """, "invalid JSON at line 1" },
        { "missing-cluster", $$"""{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "gone", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/n" } } }, {{GoodCluster}} } }""",
            "route 'news', field 'ClusterId': cluster 'gone' is not defined under ReverseProxy.Clusters." },
        { "unknown-policy", $$"""{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "AuthorizationPolicy": "no-such-policy", "Match": { "Path": "/n" } } }, {{GoodCluster}} } }""",
            "route 'news': Authorization policy 'no-such-policy' not found for route 'news'." },
        { "duplicate-route-ids", $$"""{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "Match": { "Path": "/a" } }, "news": { "ClusterId": "cms", "Match": { "Path": "/b" } } }, {{GoodCluster}} } }""",
            "Duplicate" },
        { "cluster-without-destinations", """{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/n" } } }, "Clusters": { "cms": { } } } }""",
            "cluster 'cms', field 'Destinations': no destinations" },
        { "emptied-file", "", "the file is empty" },
        { "no-routes", $$"""{ "ReverseProxy": { "Routes": { }, {{GoodCluster}} } }""", "ReverseProxy.Routes: no routes" },
        { "unknown-field", $$"""{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "Match": { "Pth": "/n" } } }, {{GoodCluster}} } }""",
            "route 'news', field 'Match.Pth'" },
        { "bad-match-path", $$"""{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "Match": { "Path": "/{**a}/{**b}" } } }, {{GoodCluster}} } }""",
            "route 'news': Invalid path '/{**a}/{**b}'" },
        { "relative-destination", """{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "Match": { "Path": "/n" } } }, "Clusters": { "cms": { "Destinations": { "a": { "Address": "cms:3000" } } } } } }""",
            "field 'Destinations.a.Address': 'cms:3000' is not an absolute http(s) URL." },
        { "shadows-gateway-endpoint", $$"""{ "ReverseProxy": { "Routes": { "steal": { "ClusterId": "cms", "Match": { "Path": "/logout" } } }, {{GoodCluster}} } }""",
            "route 'steal', field 'Match.Path': '/logout' is a gateway endpoint and is never proxied." },
        { "reserved-route-id", $$"""{ "ReverseProxy": { "Routes": { "_gateway-warm-up-signed": { "ClusterId": "cms", "Match": { "Path": "/n" } } }, {{GoodCluster}} } }""",
            "route '_gateway-warm-up-signed': ids starting with '_gateway' are the gateway's own." },
        { "reserved-cluster-id", """{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "_Gateway-cms", "Match": { "Path": "/n" } } }, "Clusters": { "_Gateway-cms": { "Destinations": { "a": { "Address": "http://127.0.0.1:9/" } } } } } }""",
            "cluster '_Gateway-cms': ids starting with '_gateway' are the gateway's own." },
        { "bad-identity-metadata", $$"""{ "ReverseProxy": { "Routes": { "news": { "ClusterId": "cms", "Match": { "Path": "/n" }, "Metadata": { "Gateway.AuthenticatedCacheControl": "public" } } }, {{GoodCluster}} } }""",
            "Metadata 'Gateway.AuthenticatedCacheControl': 'public' must be 'no-store' or 'private'" },
    };
}
