namespace Jobs.Dataflow.Tests.TestUtilities;

/// <summary>Starting a timer job in a harness the way every timer test begins.</summary>
internal static class GroupHarnessTimerExtensions
{
    /// <summary>
    /// Adds a timer job, starts the group and waits, by the job's name, until its timer is armed,
    /// so the test may advance the clock.
    /// </summary>
    public static async Task StartTimerAsync(this GroupHarness harness, string name, TimerFunc fn, TimeSpan interval, TimerOptions? options = null)
    {
        harness.Group.Add(Job.Timer(name, fn, interval, options));
        await harness.StartAsync();
        await harness.Waits.WaitForTimerArmedAsync(name);
    }

    /// <summary>Adds a timer job made by any factory (<c>Job.Cron</c>, a <see cref="TimerInterval"/>), starts the group and waits until its timer is armed.</summary>
    public static async Task StartTimerAsync(this GroupHarness harness, Job job)
    {
        harness.Add(job);
        await harness.StartAsync();
        await harness.Waits.WaitForTimerArmedAsync(job.Name);
    }
}
