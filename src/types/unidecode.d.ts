declare module "unidecode" {
  /** ASCII transliteration of `text` (Text::Unidecode's tables); characters it has no entry for become `replacement` (default ""). */
  export default function unidecode(text: string, replacement?: string): string;
}
