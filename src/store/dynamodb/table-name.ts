/** DynamoDB's rule for table names (its own module, so option validation need not load the tier). */
export function isValidTableName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{3,255}$/.test(name);
}
