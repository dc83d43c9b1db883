using System;

public class Program
{
    public static void Main()
    {
        Console.WriteLine(undefined_name);
    }
}
