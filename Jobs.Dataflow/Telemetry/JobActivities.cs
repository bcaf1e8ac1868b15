using System.Diagnostics;

namespace Jobs.Dataflow;

/// <summary>Starts and finishes the activities of job runs.</summary>
internal static class JobActivities
{
    private static readonly ActivitySource Source = new(JobsActivitySource.Name, LibraryVersion.Informational);

    /// <summary>
    /// Starts the activity of one run, linked to <paramref name="links"/> (the activities that fired a
    /// trigger for it), or returns <see langword="null"/> at no cost when nobody listens.
    /// </summary>
    public static Activity? StartRun(JobContext context, string kind, IEnumerable<ActivityLink>? links = null)
    {
        // Stryker disable once Block: StartActivity returns null too when nobody listens; this only spares the call.
        if (!Source.HasListeners())
        {
            return null;
        }

        Activity? activity = Source.StartActivity(kind + " " + context.JobName, ActivityKind.Internal, parentContext: default, links: links);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("job.name", context.JobName);
        activity.SetTag("job.kind", kind);
        if (context.Labels is { } labels)
        {
            foreach (KeyValuePair<string, object?> label in labels.Labels)
            {
                activity.SetTag(label.Key, label.Value);
            }
        }

        return activity;
    }

    /// <summary>
    /// Records a run's error on its activity, the OpenTelemetry way: status Error, <c>error.type</c>
    /// (the exception's full type name) and an exception event.
    /// </summary>
    public static void Fail(Activity? activity, Exception error)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, error.Message);
        activity.SetTag("error.type", error.GetType().FullName);
        activity.AddException(error);
    }

    /// <summary>Tags a run's activity with how it ended (<c>job.outcome</c>: <c>ok</c>, <c>error</c> or <c>cancelled</c>).</summary>
    public static void End(Activity? activity, RunOutcome outcome) =>
        activity?.SetTag("job.outcome", Outcomes.Tag(outcome));
}
