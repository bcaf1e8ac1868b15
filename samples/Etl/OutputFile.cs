namespace Jobs.Dataflow.Samples.Etl;

/// <summary>The output: converted orders, one CSV line each, under a header. Knows how many it wrote.</summary>
internal sealed class OutputFile
{
    private readonly TextWriter _writer;
    private long _written;

    public OutputFile(TextWriter writer)
    {
        _writer = writer;
        _writer.WriteLine(Order.Header);
    }

    /// <summary>Gets the number of records written and flushed to the file.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>
    /// Appends a batch and flushes it. No token: a stop must not leave half a line in the file. Only
    /// the sink calls it, one batch at a time.
    /// </summary>
    public async Task<long> WriteAsync(Order[] batch)
    {
        foreach (Order order in batch)
        {
            await _writer.WriteLineAsync(order.ToCsv()).ConfigureAwait(false);
        }

        await _writer.FlushAsync().ConfigureAwait(false);
        return Interlocked.Add(ref _written, batch.Length);
    }
}
