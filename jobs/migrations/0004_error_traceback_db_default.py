"""A database default for ``error_traceback``: the processes still running the code of before
0003 (a rolling deploy) insert jobs without the column."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0003_error_traceback'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='error_traceback',
            field=models.TextField(blank=True, db_default='', default='', help_text='Traceback of the last failure (admin only)'),
        ),
    ]
