namespace Gateway.Tests.Rig;

/// <summary>Another process's memory from /proc (Linux): resident now, and the peak since the last reset.</summary>
internal static class ProcessMemory
{
    public static long ResidentBytes(int pid) => StatusKilobytes(pid, "VmRSS:") * 1024;

    public static long PeakBytes(int pid) => StatusKilobytes(pid, "VmHWM:") * 1024;

    /// <summary>Starts the peak (VmHWM) over from the current resident size (clear_refs 5, Linux 4.0 and later).</summary>
    public static void ResetPeak(int pid) => File.WriteAllText($"/proc/{pid}/clear_refs", "5");

    private static long StatusKilobytes(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"/proc/{pid}/status has no {field}");
    }
}
