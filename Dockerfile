# Multi-stage build. No Docker engine runs on this project's build machines, so this file is not
# built in CI; the build stage runs the same restore from the package feed as a clone.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY nuget.config Directory.Build.props Directory.Packages.props ./
COPY Gateway/Gateway.csproj Gateway/
RUN dotnet restore Gateway/Gateway.csproj
COPY Gateway/ Gateway/
RUN dotnet publish Gateway/Gateway.csproj -c Release -o /app --no-restore

# Chiseled: no shell, no package manager, runs as the non-root "app" user (uid 1654).
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled AS runtime
WORKDIR /app
COPY --from=build /app ./
COPY k8s/base/proxy.json /etc/gateway/routes/proxy.json
ENV ASPNETCORE_URLS=http://+:8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    Gateway__ProxyConfigPath=/etc/gateway/routes/proxy.json
USER 1654
EXPOSE 8080
ENTRYPOINT ["dotnet", "Gateway.dll"]
